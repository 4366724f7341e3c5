import { EVENT_STREAMS } from '@batchgate/contracts';
import { jobStreams } from '@batchgate/platform/jobs';
import type { StreamDefinition } from '@batchgate/platform/messaging';

/** The stream of offline's own events (a seller's configuration changed). */
export const OFFLINE_EVENTS_STREAM = EVENT_STREAMS.find((stream) => stream.name === 'OFFLINE_EVENTS') as StreamDefinition;

/** Every stream the service uses: its events and its batches' work queue and changes. */
export const OFFLINE_STREAMS: StreamDefinition[] = [OFFLINE_EVENTS_STREAM, ...jobStreams('offline')];
