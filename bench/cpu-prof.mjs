// Loaded with `node --import` (NODE_OPTIONS) by bench/gateway.mjs --cpu-prof: profiles the
// whole process with the inspector and writes a .cpuprofile on exit (NODE_OPTIONS does
// not accept --cpu-prof itself).
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.HEADY_CPU_PROF_DIR ?? '.';
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.start');
process.once('exit', () => {
  // the in-thread session answers synchronously
  session.post('Profiler.stop', (err, res) => {
    if (!err)
      writeFileSync(join(dir, `gateway-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
  });
});
