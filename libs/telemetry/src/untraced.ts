import { SetMetadata } from '@nestjs/common';

/** Metadata key the HTTP interceptor reads to leave a controller out of traces and HTTP metrics. */
export const UNTRACED = 'heady:untraced';

/** Leaves a controller (or handler) out of HTTP spans and metrics, e.g. probes and scrapes. */
export const Untraced = (): ClassDecorator & MethodDecorator => SetMetadata(UNTRACED, true);
