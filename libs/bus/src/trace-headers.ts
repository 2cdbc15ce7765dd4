import { type TextMapGetter, type TextMapSetter, context, propagation } from '@opentelemetry/api';
import { type Context } from '@opentelemetry/api';
import { type MsgHdrs } from '@nats-io/transport-node';

const setter: TextMapSetter<MsgHdrs> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

const getter: TextMapGetter<MsgHdrs | undefined> = {
  get(carrier, key) {
    return carrier?.get(key) || undefined;
  },
  keys(carrier) {
    return carrier ? [...carrier.keys()] : [];
  },
};

/** Writes the active W3C trace context (`traceparent`, `tracestate`) into NATS headers. */
export function injectTrace(h: MsgHdrs): void {
  propagation.inject(context.active(), h, setter);
}

/** Reads the W3C trace context from NATS headers (the root context when there is none). */
export function extractTrace(h: MsgHdrs | undefined): Context {
  return propagation.extract(context.active(), h, getter);
}
