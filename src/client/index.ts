/**
 * tiercache/client: the browser layer. Runs in pages (and, for the service worker, in
 * `tiercache/client/service-worker`); it uses no Node API.
 */
export { subscribeInvalidations } from './invalidations.js'
export type { InvalidationDetail, InvalidationSubscription, SubscribeOptions } from './invalidations.js'
export { askWorker, dropTagsInWorker, whenControlled, workerStats } from './worker-link.js'
export { createStateCache, isQuotaError, STATE_FORMAT_VERSION } from './state-cache.js'
export type { StateBackend, StateCache, StateCacheOptions, StateSetOptions, StateSetResult } from './state-cache.js'
export { indexedDbBackend, localStorageBackend } from './storage-backends.js'
export { ByteBoundedIndex } from './byte-bounded-index.js'
export type { Admission, IndexedEntry } from './byte-bounded-index.js'
export { isTag, parseSurrogateKey, TagIndex, MAX_TAG_LENGTH, MAX_TAGS_PER_RESPONSE } from './tag-index.js'
export { CLIENT_MESSAGE_VERSION, parseInvalidateEvent, parseResyncEvent, parseWorkerRequest } from './messages.js'
export type { InvalidateEvent, ResyncEvent, WorkerReply, WorkerRequest, WorkerStats } from './messages.js'
export { CLIENT_ERROR_CODES, ClientError } from './client-errors.js'
export type { ClientErrorCode } from './client-errors.js'
