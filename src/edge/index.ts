/**
 * tiercache/edge: the RFC 9111 caching reverse proxy (the CDN layer). Loads node:http; Redis only
 * when shared storage is configured.
 */
export { Edge, createEdge } from './edge.js'
export type { AccessLogEntry, EdgeAdminOptions, EdgeOptions, EdgePurgeOptions, EdgeStorageOptions, ResolvedEdgeOptions } from './options.js'
export { EDGE_DEFAULTS, resolveEdgeOptions } from './options.js'
export type { BehaviorOptions, ResolvedBehavior } from './behavior-options.js'
export { CLOUDFRONT_METHODS, DEFAULT_BEHAVIORS } from './behavior-options.js'
export type { EdgeResult, EdgeStats, StatusClass } from './metrics.js'
export { EDGE_CHANNEL_NAMES, EDGE_RESULTS, edgeChannels, STATUS_CLASSES } from './metrics.js'
export type { PurgeRequest } from './purge.js'
export { MAX_PURGE_ITEMS, bearerMatches, parsePurgeRequest } from './purge.js'
export { EdgeConfigError, PurgeError } from './errors.js'
export { OriginUnavailableError } from './origin-client.js'
export { EDGE_RECORD_MAGIC, EDGE_RECORD_VERSION, EDGE_SERIALIZER_ID, StoredResponse, VaryMarker, decodeRecord, edgeRecordSerializer, encodeRecord } from './stored-response.js'
export type { EdgeRecord } from './stored-response.js'
export { HOP_AUTH_HEADER, HOP_HEADER } from './hop-auth.js'
export { loadEdgeConfig } from './config-file.js'
export { purgeRemote } from './purge-client.js'
export type { PurgeRemoteOptions } from './purge-client.js'
