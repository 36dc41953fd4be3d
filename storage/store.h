/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_STORAGE_STORE_H
#define SL_STORAGE_STORE_H

/**
 * @file
 * Closed windows in LMDB. The only module that includes <lmdb.h>.
 *
 * One environment (a directory holding data.mdb) with two named databases:
 *  - "meta":    "schema_version" -> u32 LE; "last_window/<view>" -> u64 LE start ns;
 *               the view registry ("view/<name>", "viewdef/<id>", "next_view_id",
 *               below).
 *  - "windows": key = u32 BE view id, u64 BE window start ns, canonical group
 *               key bytes (so keys sort by view, then time, then group); value =
 *               u64 LE window end ns followed by the serialized state bytes.
 *
 * Threading: exactly one writer handle per environment (the storage thread of
 * sluiced). Readers (sluicectl, sluice-ctld) open with SL_STORE_RDONLY and keep
 * read transactions short; LMDB's MVCC means they never block the writer.
 * A handle is used by one thread at a time.
 *
 * Durability: each window commit is one write transaction, synced to disk
 * before sl_store_put_window() returns (no MDB_NOSYNC): a committed window
 * survives a crash or power loss.
 *
 * Errors: functions return a negative errno; the text of the underlying LMDB
 * or OS failure is available from sl_store_strerror() for the caller to log.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_STORE_SCHEMA_VERSION 1u

/** Open flags. */
#define SL_STORE_RDONLY 0x1u

/**
 * Largest canonical group key sl_store_put_window() accepts, in bytes: LMDB's
 * key limit (511 bytes, MDB_MAXKEYSIZE) minus the 12-byte view/start prefix.
 */
#define SL_STORE_KEY_MAX 499u

struct sl_store; /**< Opaque handle. */

/** One record of a window: canonical group key and serialized state. */
struct sl_store_rec {
	const uint8_t *key;
	uint32_t key_len;
	const uint8_t *val;
	uint32_t val_len;
};

/**
 * Open (or, unless read-only, create) the store in directory @p dir (created
 * if missing, unless read-only; its parent must exist).
 *
 * Read-only never creates the directory or data.mdb. LMDB itself still
 * creates lock.mdb if it is missing (no writer ever opened the store), and a
 * reader needs write access to lock.mdb to register its transactions.
 * A read-write open frees the reader slots of dead processes.
 *
 * @param map_size  Maximum database size in bytes (0: 1 GiB default; for a
 *                  read-only open, 0 keeps the size recorded by the writer).
 * @param flags     0 or SL_STORE_RDONLY.
 * @param[out] ret_store  Set on success only; release with sl_store_close().
 * @return 0, -ENOENT (read-only and no database), -EPROTO (schema version
 *         mismatch or missing), -EINVAL (unknown flag), -EACCES, -ENOSPC,
 *         -ENOMEM, -EIO, or another negative errno from the OS. The details
 *         are in sl_store_strerror(NULL).
 */
int sl_store_open(const char *dir, uint64_t map_size, unsigned int flags,
		  struct sl_store **ret_store);

/** Close the store. NULL is a no-op. */
void sl_store_close(struct sl_store *s);

/**
 * Text of the last failure on @p s ("" if none), e.g. "mdb_put(window):
 * MDB_MAP_FULL: Environment mapsize limit reached". With @p s NULL: the last
 * failed sl_store_open() of the calling thread. Valid until the next call on
 * the same handle (or thread).
 */
const char *sl_store_strerror(const struct sl_store *s);

/**
 * Write all records of one window in one durable write transaction. Records
 * given in key order (sorted by key bytes) are bulk-appended when they sort
 * after everything stored, which is much faster for large windows. Records
 * already present for the same (view, start, key) are replaced. Raises
 * "last_window/<view>" to @p start_ns (never lowers it). A window with no
 * records only does that.
 *
 * Nothing of the window is written unless 0 is returned.
 *
 * @return 0, -EINVAL (a key is longer than SL_STORE_KEY_MAX; checked before
 *         anything is written), -EROFS (read-only handle), -ENOSPC (map full),
 *         -EIO, or another negative errno from the OS.
 */
int sl_store_put_window(struct sl_store *s, uint32_t view, uint64_t start_ns, uint64_t end_ns,
			const struct sl_store_rec *recs, uint32_t n);

/**
 * Look up one record (used to amend a window that was already committed).
 * The value is the state bytes given to sl_store_put_window() (without end ns).
 * @param buf  Receives the value (capacity @p cap).
 * @param[out] ret_len  Length of the value (also set on -ENOBUFS).
 * @return 0, -ENOENT, -ENOBUFS (value larger than cap; *ret_len is the size),
 *         -EINVAL (key longer than SL_STORE_KEY_MAX), -EIO.
 */
int sl_store_get(struct sl_store *s, uint32_t view, uint64_t start_ns, const uint8_t *key,
		 uint32_t key_len, uint8_t *buf, uint32_t cap, uint32_t *ret_len);

/**
 * Callback for sl_store_scan(): return non-zero to stop. Spans valid during
 * the call only. It runs inside the scan's read transaction: it may read the
 * store but must not write to it.
 */
typedef int (*sl_store_scan_fn)(uint32_t view, uint64_t start_ns, uint64_t end_ns,
				const uint8_t *key, uint32_t key_len, const uint8_t *val,
				uint32_t val_len, void *arg);

/**
 * Visit every record of @p view whose window start is in [from_ns, to_ns), in
 * key order, inside one read transaction.
 * @return 0, the callback's non-zero value, or -EIO.
 */
int sl_store_scan(struct sl_store *s, uint32_t view, uint64_t from_ns, uint64_t to_ns,
		  sl_store_scan_fn fn, void *arg);

/* ---- view registry (meta database) ----
 *
 * Record view ids: 0 is the statsd metrics; configured views get ids 1, 2,
 * ... from the registry, never reused. Meta keys: "view/<name>" -> u32 LE id
 * (the name's current id), "viewdef/<u32 BE id>" -> the definition text (the
 * YAML of a configuration holding that one view, written by sluiced so that
 * readers decode the view's records with the plan that wrote them),
 * "next_view_id" -> u32 LE.
 */

/** Longest view definition text accepted, bytes. */
#define SL_STORE_VIEWDEF_MAX (1u << 20)
/** Longest view name accepted, bytes. */
#define SL_STORE_VIEW_NAME_MAX 64u

/**
 * Look up the current id and definition of view @p name.
 * @param[out] ret_id   The id; may be NULL when not wanted.
 * @param[out] ret_def  malloc()ed copy of the definition, NUL-terminated
 *                      (caller frees); may be NULL when not wanted.
 * @param[out] ret_len  Length of the definition (without the NUL); may be NULL.
 * All three are written on success only.
 * @return 0, -ENOENT (no such view; also for a name that could not be
 *         registered), -ENOMEM, -EIO (a corrupt registry, or LMDB).
 */
int sl_store_view_lookup(struct sl_store *s, const char *name, uint32_t *ret_id, char **ret_def,
			 size_t *ret_len);

/**
 * Definition of view id @p id (as sl_store_view_lookup()), current or not:
 * the records of an id are decoded with its own definition.
 * @return 0, -ENOENT (no definition for that id), -ENOMEM, -EIO.
 */
int sl_store_view_def(struct sl_store *s, uint32_t id, char **ret_def, size_t *ret_len);

/**
 * Bind @p name to a definition in one durable write transaction. With
 * @p new_id false and the name already registered, its id is kept and its
 * definition replaced; otherwise the next id is allocated and the name points
 * to it (records of the old id stay, readable through sl_store_view_def()).
 * Ids are handed out in order from 1 and never twice, whatever names come
 * and go.
 * @param def  @p len bytes (need not be NUL-terminated; stored as given).
 * @param[out] ret_id  The name's id now; may be NULL. Written on success only.
 * @return 0, -EINVAL (empty name, name over SL_STORE_VIEW_NAME_MAX bytes, def
 *         over SL_STORE_VIEWDEF_MAX; checked before anything is written),
 *         -EROFS, -ENOSPC (map full, or every id up to UINT32_MAX - 1 used),
 *         -EIO.
 */
int sl_store_view_define(struct sl_store *s, const char *name, const char *def, size_t len,
			 bool new_id, uint32_t *ret_id);

/**
 * Callback of sl_store_view_list(); non-zero stops. @p name is NUL-terminated;
 * @p def (@p len bytes) is NOT: it points into the map. Both are valid during
 * the call only, which runs inside the list's read transaction.
 */
typedef int (*sl_store_view_fn)(const char *name, uint32_t id, const char *def, size_t len,
				void *arg);

/**
 * Visit every registered name (in bytewise name order) with its current id
 * and definition, in one read transaction.
 * @return 0, the callback's non-zero value, or -EIO.
 */
int sl_store_view_list(struct sl_store *s, sl_store_view_fn fn, void *arg);

/**
 * Retention: delete the records of @p view whose window start is below
 * @p before_ns, at most @p max_keys of them, in one durable write
 * transaction (the oldest first; records of other views, and of @p view from
 * @p before_ns on, are never touched). Call again while it returns
 * @p max_keys: bounded batches keep each write transaction short.
 * "last_window/<view>" is left as it is.
 * @param[out] ret_deleted  Records deleted (< max_keys: nothing older is left);
 *                          may be NULL. Written on success only.
 * @return 0, -EROFS, -ENOSPC (map full: deleting copies pages too), -EIO.
 *         Nothing is deleted unless 0 is returned.
 */
int sl_store_delete_before(struct sl_store *s, uint32_t view, uint64_t before_ns,
			   uint32_t max_keys, uint64_t *ret_deleted);

/**
 * The start of the newest committed window (slice) of @p view: the value of
 * "last_window/<view>" (<view> the id in decimal), which every
 * sl_store_put_window() raises and nothing lowers. sluice-ctld's stream
 * polls it to learn that new windows were committed.
 * @param[out] ret_start_ns  Set on success only.
 * @return 0, -ENOENT (nothing committed for @p view yet), -EIO (LMDB, or a
 *         value that is not 8 bytes).
 */
int sl_store_last_window(struct sl_store *s, uint32_t view, uint64_t *ret_start_ns);

/** Storage statistics for metrics and status output. */
struct sl_store_info {
	uint64_t map_size;     /**< Configured map size, bytes. */
	uint64_t used_bytes;   /**< Pages in use * page size. */
	uint64_t records;      /**< Entries in "windows". */
	uint64_t last_window;  /**< Start ns of the latest committed window of view 0. */
};
/** Fill @p ret_info. @return 0, or a negative errno (-EIO). */
int sl_store_info(struct sl_store *s, struct sl_store_info *ret_info);

#endif /* SL_STORAGE_STORE_H */
