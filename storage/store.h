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
 */

#include <stdint.h>

#define SL_STORE_SCHEMA_VERSION 1u

/** Open flags. */
#define SL_STORE_RDONLY 0x1u

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
 * if missing, unless read-only).
 *
 * @param map_size  Maximum database size in bytes (0: 1 GiB default).
 * @param[out] ret_store  Set on success only; release with sl_store_close().
 * @return 0, -ENOENT (read-only and no database), -EPROTO (schema version
 *         mismatch), -EACCES, -ENOSPC, -ENOMEM, -EIO.
 */
int sl_store_open(const char *dir, uint64_t map_size, unsigned int flags,
		  struct sl_store **ret_store);

/** Close the store. NULL is a no-op. */
void sl_store_close(struct sl_store *s);

/**
 * Write all records of one window in one durable write transaction. Records
 * already present for the same (view, start, key) are replaced.
 *
 * @return 0, -ENOSPC (map full: nothing of this window is written), -EIO.
 */
int sl_store_put_window(struct sl_store *s, uint32_t view, uint64_t start_ns, uint64_t end_ns,
			const struct sl_store_rec *recs, uint32_t n);

/**
 * Look up one record (used to amend a window that was already committed).
 * @param[out] ret_val  Copied into @p buf (capacity @p cap); *ret_len set.
 * @return 0, -ENOENT, -ENOBUFS (value larger than cap; *ret_len is the size), -EIO.
 */
int sl_store_get(struct sl_store *s, uint32_t view, uint64_t start_ns, const uint8_t *key,
		 uint32_t key_len, uint8_t *buf, uint32_t cap, uint32_t *ret_len);

/** Callback for sl_store_scan(): return non-zero to stop. Spans valid during the call only. */
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
int sl_store_info(struct sl_store *s, struct sl_store_info *ret_info);

#endif /* SL_STORAGE_STORE_H */
