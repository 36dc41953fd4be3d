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
 *  - "meta":    "schema_version" -> u32 LE; "last_window/<view>" -> u64 LE start ns.
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
