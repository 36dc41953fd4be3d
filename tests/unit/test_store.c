/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * Unit tests of storage/store.c against a real LMDB environment in a fresh
 * temporary directory per test.
 *
 * Fault injection: this file defines the mdb_* functions that store.c calls,
 * so the executable's definitions take precedence over liblmdb's; each one
 * forwards to the real function (dlsym(RTLD_NEXT)) unless it is the Nth call
 * since fi_arm(N), which fails with MDB_PANIC instead. The tests walk N = 1, 2,
 * ... until the operation completes without a fault: every run must end in a
 * clean error (nothing written, nothing leaked under ASan) or the right result.
 */

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lmdb.h>

#include "sl_test.h"
#include "store.h"

/* Fault injection ------------------------------------------------------- */

static unsigned int fi_calls;   /* mdb_* calls since fi_arm() */
static unsigned int fi_fail_at; /* call that fails; 0: none */

static void
fi_arm(unsigned int n)
{
	fi_calls = 0;
	fi_fail_at = n;
}

/* Disarm; returns whether the armed fault was hit. */
static int
fi_disarm(void)
{
	int hit = fi_fail_at != 0 && fi_calls >= fi_fail_at;

	fi_fail_at = 0;
	return hit;
}

static int
fi_hit(void)
{
	return fi_fail_at != 0 && ++fi_calls == fi_fail_at;
}

#define FI_REAL(fn) ((__typeof__(fn) *)dlsym(RTLD_NEXT, #fn))

int
mdb_env_create(MDB_env **env)
{
	return fi_hit() ? MDB_PANIC : FI_REAL(mdb_env_create)(env);
}

int
mdb_env_set_maxdbs(MDB_env *env, MDB_dbi dbs)
{
	return fi_hit() ? MDB_PANIC : FI_REAL(mdb_env_set_maxdbs)(env, dbs);
}

int
mdb_env_set_mapsize(MDB_env *env, size_t size)
{
	return fi_hit() ? MDB_PANIC : FI_REAL(mdb_env_set_mapsize)(env, size);
}

int
mdb_env_open(MDB_env *env, const char *path, unsigned int flags, mdb_mode_t mode)
{
	return fi_hit() ? MDB_PANIC : FI_REAL(mdb_env_open)(env, path, flags, mode);
}

int
mdb_reader_check(MDB_env *env, int *dead)
{
	return fi_hit() ? MDB_PANIC : FI_REAL(mdb_reader_check)(env, dead);
}

int
mdb_env_info(MDB_env *env, MDB_envinfo *stat)
{
	return fi_hit() ? MDB_PANIC : FI_REAL(mdb_env_info)(env, stat);
}

int
mdb_env_stat(MDB_env *env, MDB_stat *stat)
{
	return fi_hit() ? MDB_PANIC : FI_REAL(mdb_env_stat)(env, stat);
}

int
mdb_txn_begin(MDB_env *env, MDB_txn *parent, unsigned int flags, MDB_txn **txn)
{
	return fi_hit() ? MDB_PANIC : FI_REAL(mdb_txn_begin)(env, parent, flags, txn);
}

/* Like the real one, a failed commit frees the transaction. */
int
mdb_txn_commit(MDB_txn *txn)
{
	if (fi_hit()) {
		mdb_txn_abort(txn);
		return MDB_PANIC;
	}
	return FI_REAL(mdb_txn_commit)(txn);
}

int
mdb_dbi_open(MDB_txn *txn, const char *name, unsigned int flags, MDB_dbi *dbi)
{
	return fi_hit() ? MDB_PANIC : FI_REAL(mdb_dbi_open)(txn, name, flags, dbi);
}

int
mdb_stat(MDB_txn *txn, MDB_dbi dbi, MDB_stat *stat)
{
	return fi_hit() ? MDB_PANIC : FI_REAL(mdb_stat)(txn, dbi, stat);
}

int
mdb_get(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data)
{
	return fi_hit() ? MDB_PANIC : FI_REAL(mdb_get)(txn, dbi, key, data);
}

int
mdb_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data, unsigned int flags)
{
	return fi_hit() ? MDB_PANIC : FI_REAL(mdb_put)(txn, dbi, key, data, flags);
}

int
mdb_cursor_open(MDB_txn *txn, MDB_dbi dbi, MDB_cursor **cursor)
{
	return fi_hit() ? MDB_PANIC : FI_REAL(mdb_cursor_open)(txn, dbi, cursor);
}

int
mdb_cursor_get(MDB_cursor *cursor, MDB_val *key, MDB_val *data, MDB_cursor_op op)
{
	return fi_hit() ? MDB_PANIC : FI_REAL(mdb_cursor_get)(cursor, key, data, op);
}

int
mdb_cursor_del(MDB_cursor *cursor, unsigned int flags)
{
	return fi_hit() ? MDB_PANIC : FI_REAL(mdb_cursor_del)(cursor, flags);
}

/* Helpers ---------------------------------------------------------------- */

/* A temporary directory; the store goes in its subdirectory "db". */
struct tdir {
	char root[64];
	char db[80];
};

static int
tdir_make(struct tdir *d)
{
	strcpy(d->root, "/tmp/sl-test-store-XXXXXX");
	if (mkdtemp(d->root) == NULL)
		return -errno;
	snprintf(d->db, sizeof(d->db), "%s/db", d->root);
	return 0;
}

static void
tdir_remove(const struct tdir *d)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/data.mdb", d->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", d->db);
	unlink(p);
	rmdir(d->db);
	rmdir(d->root);
}

static int
path_exists(const char *dir, const char *name)
{
	char p[128];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &st) == 0;
}

/* Copy of one scanned record (keys and values of these tests are short). */
struct seen_rec {
	uint32_t view;
	uint64_t start;
	uint64_t end;
	char key[32];
	uint32_t key_len;
	char val[32];
	uint32_t val_len;
};

struct seen {
	uint32_t n;
	uint32_t stop_at; /* return 7 after this many records; 0: never */
	struct seen_rec r[64];
};

static int
collect(uint32_t view, uint64_t start_ns, uint64_t end_ns, const uint8_t *key, uint32_t key_len,
	const uint8_t *val, uint32_t val_len, void *arg)
{
	struct seen *sn = arg;
	struct seen_rec *r;

	if (sn->n == sizeof(sn->r) / sizeof(sn->r[0]))
		return -ERANGE;
	r = &sn->r[sn->n++];
	memset(r, 0, sizeof(*r));
	r->view = view;
	r->start = start_ns;
	r->end = end_ns;
	r->key_len = key_len;
	r->val_len = val_len;
	memcpy(r->key, key, key_len < sizeof(r->key) - 1 ? key_len : sizeof(r->key) - 1);
	memcpy(r->val, val, val_len < sizeof(r->val) - 1 ? val_len : sizeof(r->val) - 1);
	return sn->n == sn->stop_at ? 7 : 0;
}

static int
scan(struct sl_store *s, uint32_t view, uint64_t from, uint64_t to, struct seen *sn)
{
	memset(sn, 0, sizeof(*sn));
	return sl_store_scan(s, view, from, to, collect, sn);
}

#define REC(k, v)                                                                      \
	{ (const uint8_t *)(k), sizeof(k) - 1, (const uint8_t *)(v), sizeof(v) - 1 }

/* Rewrite "schema_version" behind the store's back, with plain LMDB calls. */
static int
tamper_schema(const char *dir, uint32_t version)
{
	uint8_t buf[4] = { version, version >> 8, version >> 16, version >> 24 };
	char name[] = "schema_version";
	MDB_val k = { sizeof(name) - 1, name };
	MDB_val v = { sizeof(buf), buf };
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;

	rc = mdb_env_create(&env);
	if (rc != MDB_SUCCESS)
		return rc;
	rc = mdb_env_set_maxdbs(env, 4);
	if (rc == MDB_SUCCESS)
		rc = mdb_env_open(env, dir, 0, 0640);
	if (rc == MDB_SUCCESS)
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (rc == MDB_SUCCESS) {
		rc = mdb_dbi_open(txn, "meta", 0, &dbi);
		if (rc == MDB_SUCCESS)
			rc = mdb_put(txn, dbi, &k, &v, 0);
		if (rc == MDB_SUCCESS)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	return rc;
}

/* Tests ------------------------------------------------------------------ */

SL_TEST(open_creates_dir_and_close_null)
{
	struct sl_store_info info;
	struct sl_store *s = NULL;
	struct tdir d;
	struct stat st;

	SL_ASSERT_OK(tdir_make(&d));
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	SL_ASSERT_NOT_NULL(s);
	SL_ASSERT_OK(stat(d.db, &st));
	SL_ASSERT(S_ISDIR(st.st_mode));
	SL_ASSERT_EQ(st.st_mode & 0027, 0); /* 0750 before the umask */
	SL_ASSERT(path_exists(d.db, "data.mdb"));
	SL_ASSERT_STR_EQ(sl_store_strerror(s), "");

	SL_ASSERT_OK(sl_store_info(s, &info));
	SL_ASSERT_EQ(info.map_size, 1ULL << 30);
	SL_ASSERT(info.used_bytes > 0 && info.used_bytes <= info.map_size);
	SL_ASSERT_EQ(info.records, 0);
	SL_ASSERT_EQ(info.last_window, 0);
	sl_store_close(s);
	sl_store_close(NULL);

	/* Reopening an existing store (schema already written) works too. */
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	sl_store_close(s);
	SL_ASSERT_EQ(sl_store_open(d.db, 0, 0x80, &s), -EINVAL);
	tdir_remove(&d);
	return SL_TEST_PASS;
}

SL_TEST(scan_key_order_bounds_and_views)
{
	const struct sl_store_rec w1[] = { REC("b", "vb"), REC("a", "va"), REC("c", "vc") };
	const struct sl_store_rec w2[] = { REC("d", "vd2"), REC("a", "va2") };
	const struct sl_store_rec w3[] = { REC("z", "other view") };
	const struct sl_store_rec one[] = { REC("k", "") };
	struct sl_store *s;
	struct seen sn;
	struct tdir d;

	SL_ASSERT_OK(tdir_make(&d));
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	SL_ASSERT_OK(sl_store_put_window(s, 1, 2000, 3000, w2, 2)); /* out of time order */
	SL_ASSERT_OK(sl_store_put_window(s, 1, 1000, 2000, w1, 3));
	SL_ASSERT_OK(sl_store_put_window(s, 2, 1000, 2000, w3, 1));
	SL_ASSERT_OK(sl_store_put_window(s, 0, 1500, 2500, w3, 1));
	SL_ASSERT_OK(sl_store_put_window(s, UINT32_MAX, 1000, 2000, w3, 1));

	/* Whole view 1: by start time, then key bytes. */
	SL_ASSERT_OK(scan(s, 1, 0, UINT64_MAX, &sn));
	SL_ASSERT_EQ(sn.n, 5);
	SL_ASSERT_EQ(sn.r[0].view, 1);
	SL_ASSERT_EQ(sn.r[0].start, 1000);
	SL_ASSERT_EQ(sn.r[0].end, 2000);
	SL_ASSERT_STR_EQ(sn.r[0].key, "a");
	SL_ASSERT_EQ(sn.r[0].key_len, 1);
	SL_ASSERT_STR_EQ(sn.r[0].val, "va");
	SL_ASSERT_EQ(sn.r[0].val_len, 2);
	SL_ASSERT_STR_EQ(sn.r[1].key, "b");
	SL_ASSERT_STR_EQ(sn.r[1].val, "vb");
	SL_ASSERT_STR_EQ(sn.r[2].key, "c");
	SL_ASSERT_EQ(sn.r[3].start, 2000);
	SL_ASSERT_EQ(sn.r[3].end, 3000);
	SL_ASSERT_STR_EQ(sn.r[3].key, "a");
	SL_ASSERT_STR_EQ(sn.r[3].val, "va2");
	SL_ASSERT_STR_EQ(sn.r[4].key, "d");

	/* [from, to) on the window start. */
	SL_ASSERT_OK(scan(s, 1, 1000, 2000, &sn));
	SL_ASSERT_EQ(sn.n, 3);
	SL_ASSERT_OK(scan(s, 1, 1001, 2001, &sn));
	SL_ASSERT_EQ(sn.n, 2);
	SL_ASSERT_EQ(sn.r[0].start, 2000);
	SL_ASSERT_OK(scan(s, 1, 0, 1000, &sn));
	SL_ASSERT_EQ(sn.n, 0);
	SL_ASSERT_OK(scan(s, 1, 2000, 2000, &sn));
	SL_ASSERT_EQ(sn.n, 0);
	SL_ASSERT_OK(scan(s, 1, 3000, 1000, &sn));
	SL_ASSERT_EQ(sn.n, 0);

	/* Views are isolated, including the neighbours of view 1 and the last one. */
	SL_ASSERT_OK(scan(s, 2, 0, UINT64_MAX, &sn));
	SL_ASSERT_EQ(sn.n, 1);
	SL_ASSERT_EQ(sn.r[0].view, 2);
	SL_ASSERT_STR_EQ(sn.r[0].val, "other view");
	SL_ASSERT_OK(scan(s, 0, 0, UINT64_MAX, &sn));
	SL_ASSERT_EQ(sn.n, 1);
	SL_ASSERT_EQ(sn.r[0].start, 1500);
	SL_ASSERT_OK(scan(s, 3, 0, UINT64_MAX, &sn));
	SL_ASSERT_EQ(sn.n, 0);
	SL_ASSERT_OK(scan(s, UINT32_MAX, 0, UINT64_MAX, &sn));
	SL_ASSERT_EQ(sn.n, 1);

	/* Start times sort numerically (big endian): 255 before 256. */
	SL_ASSERT_OK(sl_store_put_window(s, 5, 256, 300, one, 1));
	SL_ASSERT_OK(sl_store_put_window(s, 5, 255, 300, one, 1));
	SL_ASSERT_OK(scan(s, 5, 0, UINT64_MAX, &sn));
	SL_ASSERT_EQ(sn.n, 2);
	SL_ASSERT_EQ(sn.r[0].start, 255);
	SL_ASSERT_EQ(sn.r[1].start, 256);
	SL_ASSERT_EQ(sn.r[1].val_len, 0);

	/* A non-zero callback result stops the scan and is returned. */
	memset(&sn, 0, sizeof(sn));
	sn.stop_at = 2;
	SL_ASSERT_EQ(sl_store_scan(s, 1, 0, UINT64_MAX, collect, &sn), 7);
	SL_ASSERT_EQ(sn.n, 2);

	sl_store_close(s);
	tdir_remove(&d);
	return SL_TEST_PASS;
}

SL_TEST(put_replaces_same_key)
{
	const struct sl_store_rec v1[] = { REC("a", "v1"), REC("b", "b1") };
	const struct sl_store_rec v2[] = { REC("a", "longer-v2") };
	struct sl_store_info info;
	struct sl_store *s;
	struct seen sn;
	struct tdir d;

	SL_ASSERT_OK(tdir_make(&d));
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	SL_ASSERT_OK(sl_store_put_window(s, 1, 1000, 2000, v1, 2));
	SL_ASSERT_OK(sl_store_put_window(s, 1, 1000, 2500, v2, 1));
	SL_ASSERT_OK(sl_store_info(s, &info));
	SL_ASSERT_EQ(info.records, 2);
	SL_ASSERT_OK(scan(s, 1, 0, UINT64_MAX, &sn));
	SL_ASSERT_EQ(sn.n, 2);
	SL_ASSERT_STR_EQ(sn.r[0].val, "longer-v2");
	SL_ASSERT_EQ(sn.r[0].end, 2500);
	SL_ASSERT_STR_EQ(sn.r[1].val, "b1");
	SL_ASSERT_EQ(sn.r[1].end, 2000);
	sl_store_close(s);
	tdir_remove(&d);
	return SL_TEST_PASS;
}

SL_TEST(get_copies_out)
{
	const struct sl_store_rec w[] = { REC("key", "0123456789"), REC("", "empty key") };
	uint8_t buf[16];
	uint32_t len;
	struct sl_store *s;
	struct tdir d;

	SL_ASSERT_OK(tdir_make(&d));
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	SL_ASSERT_OK(sl_store_put_window(s, 1, 1000, 2000, w, 2));

	memset(buf, 0, sizeof(buf));
	SL_ASSERT_OK(sl_store_get(s, 1, 1000, (const uint8_t *)"key", 3, buf, sizeof(buf), &len));
	SL_ASSERT_EQ(len, 10);
	SL_ASSERT_STR_EQ((char *)buf, "0123456789");
	SL_ASSERT_OK(sl_store_get(s, 1, 1000, (const uint8_t *)"key", 3, buf, 10, &len));

	len = 0;
	SL_ASSERT_EQ(sl_store_get(s, 1, 1000, (const uint8_t *)"key", 3, buf, 9, &len), -ENOBUFS);
	SL_ASSERT_EQ(len, 10);
	SL_ASSERT_EQ(sl_store_get(s, 1, 1000, (const uint8_t *)"key", 3, NULL, 0, &len), -ENOBUFS);

	SL_ASSERT_OK(sl_store_get(s, 1, 1000, NULL, 0, buf, sizeof(buf), &len));
	SL_ASSERT_EQ(len, 9);

	SL_ASSERT_EQ(sl_store_get(s, 1, 1000, (const uint8_t *)"kex", 3, buf, 16, &len), -ENOENT);
	SL_ASSERT_EQ(sl_store_get(s, 1, 1001, (const uint8_t *)"key", 3, buf, 16, &len), -ENOENT);
	SL_ASSERT_EQ(sl_store_get(s, 2, 1000, (const uint8_t *)"key", 3, buf, 16, &len), -ENOENT);
	SL_ASSERT_EQ(sl_store_get(s, 1, 1000, (const uint8_t *)"ke", 2, buf, 16, &len), -ENOENT);
	sl_store_close(s);
	tdir_remove(&d);
	return SL_TEST_PASS;
}

SL_TEST(last_window_only_rises)
{
	const struct sl_store_rec w[] = { REC("a", "1") };
	struct sl_store_info info;
	struct sl_store *s;
	struct tdir d;

	SL_ASSERT_OK(tdir_make(&d));
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	SL_ASSERT_OK(sl_store_put_window(s, 0, 2000, 3000, w, 1));
	SL_ASSERT_OK(sl_store_put_window(s, 0, 1000, 2000, w, 1));
	SL_ASSERT_OK(sl_store_put_window(s, 1, 9000, 9500, w, 1)); /* another view */
	SL_ASSERT_OK(sl_store_info(s, &info));
	SL_ASSERT_EQ(info.last_window, 2000);
	SL_ASSERT_EQ(info.records, 3);

	/* An empty window still counts as committed. */
	SL_ASSERT_OK(sl_store_put_window(s, 0, 4000, 5000, NULL, 0));
	SL_ASSERT_OK(sl_store_info(s, &info));
	SL_ASSERT_EQ(info.last_window, 4000);
	SL_ASSERT_EQ(info.records, 3);
	sl_store_close(s);

	/* And it is durable across a reopen. */
	SL_ASSERT_OK(sl_store_open(d.db, 0, SL_STORE_RDONLY, &s));
	SL_ASSERT_OK(sl_store_info(s, &info));
	SL_ASSERT_EQ(info.last_window, 4000);
	SL_ASSERT_EQ(info.records, 3);
	sl_store_close(s);
	tdir_remove(&d);
	return SL_TEST_PASS;
}

/*
 * The reader runs in a child process, as sluicectl would: LMDB forbids opening
 * one environment twice in the same process. Pipes order the steps.
 */
static int
reader_child(const char *dir, int rfd, int wfd)
{
	const struct sl_store_rec w[] = { REC("a", "x") };
	struct sl_store *s;
	struct seen sn;
	char b = 'r';

	SL_ASSERT_OK(sl_store_open(dir, 0, SL_STORE_RDONLY, &s));
	SL_ASSERT_OK(scan(s, 1, 0, UINT64_MAX, &sn));
	SL_ASSERT_EQ(sn.n, 1);
	SL_ASSERT_EQ(sn.r[0].start, 1000);
	SL_ASSERT_EQ(sl_store_put_window(s, 1, 5000, 6000, w, 1), -EROFS);
	SL_ASSERT_EQ(write(wfd, &b, 1), 1);
	SL_ASSERT_EQ(read(rfd, &b, 1), 1); /* the writer committed window 2000 */
	SL_ASSERT_OK(scan(s, 1, 0, UINT64_MAX, &sn));
	SL_ASSERT_EQ(sn.n, 2);
	SL_ASSERT_EQ(sn.r[1].start, 2000);
	SL_ASSERT_STR_EQ(sn.r[1].val, "second");
	sl_store_close(s);
	return SL_TEST_PASS;
}

SL_TEST(reader_sees_commits_of_live_writer)
{
	const struct sl_store_rec w1[] = { REC("a", "first") };
	const struct sl_store_rec w2[] = { REC("a", "second") };
	int to_child[2], to_parent[2], status;
	struct sl_store *s;
	struct tdir d;
	pid_t pid;
	char b = 'w';

	SL_ASSERT_OK(tdir_make(&d));
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	SL_ASSERT_OK(sl_store_put_window(s, 1, 1000, 2000, w1, 1));
	SL_ASSERT_OK(pipe(to_child));
	SL_ASSERT_OK(pipe(to_parent));
	fflush(NULL);
	pid = fork();
	SL_ASSERT(pid >= 0);
	if (pid == 0) {
		/* Never touch the parent's handle here, and skip its atexit work. */
		close(to_child[1]);
		close(to_parent[0]);
		_exit(reader_child(d.db, to_child[0], to_parent[1]));
	}
	close(to_child[0]);
	close(to_parent[1]);
	SL_ASSERT_EQ(read(to_parent[0], &b, 1), 1); /* the reader did its first scan */
	SL_ASSERT_OK(sl_store_put_window(s, 1, 2000, 3000, w2, 1));
	SL_ASSERT_EQ(write(to_child[1], &b, 1), 1);
	SL_ASSERT_EQ(waitpid(pid, &status, 0), pid);
	SL_ASSERT(WIFEXITED(status));
	SL_ASSERT_EQ(WEXITSTATUS(status), 0);
	close(to_child[1]);
	close(to_parent[0]);
	sl_store_close(s);
	tdir_remove(&d);
	return SL_TEST_PASS;
}

SL_TEST(rdonly_never_creates)
{
	struct sl_store *s = NULL;
	struct tdir d;

	SL_ASSERT_OK(tdir_make(&d));
	/* Missing directory. */
	SL_ASSERT_EQ(sl_store_open(d.db, 0, SL_STORE_RDONLY, &s), -ENOENT);
	SL_ASSERT_NULL(s);
	SL_ASSERT(!path_exists(d.root, "db"));
	SL_ASSERT(strstr(sl_store_strerror(NULL), "mdb_env_open") != NULL);
	/* Existing but empty directory. */
	SL_ASSERT_OK(mkdir(d.db, 0750));
	SL_ASSERT_EQ(sl_store_open(d.db, 0, SL_STORE_RDONLY, &s), -ENOENT);
	SL_ASSERT_NULL(s);
	SL_ASSERT(!path_exists(d.db, "data.mdb"));
	SL_ASSERT(!path_exists(d.db, "lock.mdb"));
	/* Read-write creates; read-only then opens. */
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	sl_store_close(s);
	SL_ASSERT_OK(sl_store_open(d.db, 0, SL_STORE_RDONLY, &s));
	sl_store_close(s);
	tdir_remove(&d);
	return SL_TEST_PASS;
}

SL_TEST(schema_mismatch_is_eproto)
{
	struct sl_store *s = NULL;
	struct tdir d;

	SL_ASSERT_OK(tdir_make(&d));
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	sl_store_close(s);
	s = NULL;

	SL_ASSERT_OK(tamper_schema(d.db, SL_STORE_SCHEMA_VERSION + 1));
	SL_ASSERT_EQ(sl_store_open(d.db, 0, 0, &s), -EPROTO);
	SL_ASSERT_NULL(s);
	SL_ASSERT(strstr(sl_store_strerror(NULL), "schema_version 2") != NULL);
	SL_ASSERT_EQ(sl_store_open(d.db, 0, SL_STORE_RDONLY, &s), -EPROTO);
	SL_ASSERT_NULL(s);

	SL_ASSERT_OK(tamper_schema(d.db, SL_STORE_SCHEMA_VERSION));
	SL_ASSERT_OK(sl_store_open(d.db, 0, SL_STORE_RDONLY, &s));
	sl_store_close(s);
	tdir_remove(&d);
	return SL_TEST_PASS;
}

SL_TEST(map_full_writes_nothing)
{
	static uint8_t val[200];
	struct sl_store_rec recs[8];
	struct sl_store_info info;
	char keys[8][8];
	struct sl_store *s;
	struct seen sn;
	struct tdir d;
	uint32_t w;
	int rc = 0;

	for (uint32_t i = 0; i < 8; i++) {
		snprintf(keys[i], sizeof(keys[i]), "key%u", i);
		recs[i] = (struct sl_store_rec){ (const uint8_t *)keys[i], 4, val, sizeof(val) };
	}
	SL_ASSERT_OK(tdir_make(&d));
	SL_ASSERT_OK(sl_store_open(d.db, 64 * 1024, 0, &s));
	for (w = 0; w < 1000; w++) {
		rc = sl_store_put_window(s, 0, 1000 * (w + 1), 1000 * (w + 2), recs, 8);
		if (rc != 0)
			break;
	}
	SL_ASSERT_EQ(rc, -ENOSPC);
	SL_ASSERT(w > 0);
	SL_ASSERT(strstr(sl_store_strerror(s), "MDB_MAP_FULL") != NULL);

	/* Nothing of the failed window, everything of the others, still readable. */
	SL_ASSERT_OK(scan(s, 0, 1000 * (w + 1), UINT64_MAX, &sn));
	SL_ASSERT_EQ(sn.n, 0);
	SL_ASSERT_OK(sl_store_info(s, &info));
	SL_ASSERT_EQ(info.records, 8 * w);
	SL_ASSERT_EQ(info.last_window, 1000 * w);
	SL_ASSERT(info.used_bytes <= info.map_size);
	SL_ASSERT_OK(scan(s, 0, 0, UINT64_MAX, &sn));
	SL_ASSERT_EQ(sn.n, 8 * w);
	sl_store_close(s);

	/* A larger map takes the window. */
	SL_ASSERT_OK(sl_store_open(d.db, 1024 * 1024, 0, &s));
	SL_ASSERT_OK(sl_store_put_window(s, 0, 1000 * (w + 1), 1000 * (w + 2), recs, 8));
	SL_ASSERT_OK(sl_store_info(s, &info));
	SL_ASSERT_EQ(info.records, 8 * (w + 1));
	sl_store_close(s);
	tdir_remove(&d);
	return SL_TEST_PASS;
}

SL_TEST(key_too_long_is_einval)
{
	static uint8_t key[SL_STORE_KEY_MAX + 1];
	struct sl_store_rec recs[3] = {
		REC("short", "1"),
		{ key, SL_STORE_KEY_MAX, (const uint8_t *)"2", 1 },
		{ key, SL_STORE_KEY_MAX + 1, (const uint8_t *)"3", 1 },
	};
	struct sl_store_info info;
	struct sl_store *s;
	struct seen sn;
	struct tdir d;
	uint8_t buf[4];
	uint32_t len;

	memset(key, 'k', sizeof(key));
	SL_ASSERT_OK(tdir_make(&d));
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	SL_ASSERT_EQ(sl_store_put_window(s, 0, 1000, 2000, recs, 3), -EINVAL);
	SL_ASSERT(strstr(sl_store_strerror(s), "record 2") != NULL);
	SL_ASSERT_OK(scan(s, 0, 0, UINT64_MAX, &sn));
	SL_ASSERT_EQ(sn.n, 0);
	SL_ASSERT_OK(sl_store_info(s, &info));
	SL_ASSERT_EQ(info.last_window, 0);

	/* The limit itself is fine. */
	SL_ASSERT_OK(sl_store_put_window(s, 0, 1000, 2000, recs, 2));
	SL_ASSERT_OK(sl_store_get(s, 0, 1000, key, SL_STORE_KEY_MAX, buf, sizeof(buf), &len));
	SL_ASSERT_EQ(len, 1);
	SL_ASSERT_EQ(buf[0], '2');
	SL_ASSERT_EQ(sl_store_get(s, 0, 1000, key, SL_STORE_KEY_MAX + 1, buf, 4, &len), -EINVAL);
	sl_store_close(s);
	tdir_remove(&d);
	return SL_TEST_PASS;
}

SL_TEST(open_fails_cleanly_at_every_fault)
{
	const struct sl_store_rec w[] = { REC("a", "1") };
	struct sl_store *s;
	struct tdir d;
	unsigned int n;
	int rc;

	/* Fresh store, then existing store, read-write and read-only. */
	for (unsigned int pass = 0; pass < 3; pass++) {
		SL_ASSERT_OK(tdir_make(&d));
		if (pass > 0) {
			SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
			sl_store_close(s);
		}
		for (n = 1; n < 100; n++) {
			s = NULL;
			fi_arm(n);
			rc = sl_store_open(d.db, 0, pass == 2 ? SL_STORE_RDONLY : 0, &s);
			if (!fi_disarm())
				break;
			SL_ASSERT_EQ(rc, -EIO);
			SL_ASSERT_NULL(s);
			SL_ASSERT(strstr(sl_store_strerror(NULL), "MDB_PANIC") != NULL);
		}
		SL_ASSERT(n > 5 && n < 100);
		SL_ASSERT_OK(rc);
		SL_ASSERT_EQ(sl_store_put_window(s, 0, 1, 2, w, 1), pass == 2 ? -EROFS : 0);
		sl_store_close(s);
		tdir_remove(&d);
	}
	return SL_TEST_PASS;
}

SL_TEST(put_window_is_atomic_at_every_fault)
{
	const struct sl_store_rec w[] = { REC("a", "1"), REC("b", "2"), REC("c", "3") };
	struct sl_store_info info;
	struct sl_store *s;
	struct seen sn;
	struct tdir d;
	unsigned int n;
	int rc;

	SL_ASSERT_OK(tdir_make(&d));
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	SL_ASSERT_OK(sl_store_put_window(s, 0, 100, 200, w, 3));
	for (n = 1; n < 100; n++) {
		fi_arm(n);
		rc = sl_store_put_window(s, 0, 1000, 2000, w, 3);
		if (!fi_disarm())
			break;
		SL_ASSERT_EQ(rc, -EIO);
		SL_ASSERT_OK(scan(s, 0, 1000, UINT64_MAX, &sn));
		SL_ASSERT_EQ(sn.n, 0);
		SL_ASSERT_OK(sl_store_info(s, &info));
		SL_ASSERT_EQ(info.records, 3);
		SL_ASSERT_EQ(info.last_window, 100);
	}
	SL_ASSERT(n > 3 && n < 100);
	SL_ASSERT_OK(rc);
	SL_ASSERT_OK(scan(s, 0, 1000, UINT64_MAX, &sn));
	SL_ASSERT_EQ(sn.n, 3);
	SL_ASSERT_OK(sl_store_info(s, &info));
	SL_ASSERT_EQ(info.last_window, 1000);
	sl_store_close(s);
	tdir_remove(&d);
	return SL_TEST_PASS;
}

SL_TEST(reads_fail_cleanly_at_every_fault)
{
	const struct sl_store_rec w[] = { REC("a", "1"), REC("b", "2"), REC("c", "3") };
	struct sl_store_info info;
	struct sl_store *s;
	struct seen sn;
	struct tdir d;
	uint8_t buf[4];
	uint32_t len;
	unsigned int n;
	int rc;

	SL_ASSERT_OK(tdir_make(&d));
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	SL_ASSERT_OK(sl_store_put_window(s, 0, 100, 200, w, 3));

	for (n = 1; n < 100; n++) {
		fi_arm(n);
		rc = sl_store_get(s, 0, 100, (const uint8_t *)"b", 1, buf, sizeof(buf), &len);
		if (!fi_disarm())
			break;
		SL_ASSERT_EQ(rc, -EIO);
	}
	SL_ASSERT_OK(rc);
	SL_ASSERT_EQ(len, 1);
	SL_ASSERT_EQ(buf[0], '2');

	for (n = 1; n < 100; n++) {
		fi_arm(n);
		rc = scan(s, 0, 0, UINT64_MAX, &sn);
		if (!fi_disarm())
			break;
		SL_ASSERT_EQ(rc, -EIO);
		SL_ASSERT(sn.n <= 3);
	}
	SL_ASSERT(n > 4 && n < 100); /* begin, cursor open, SET_RANGE, 3 x NEXT */
	SL_ASSERT_OK(rc);
	SL_ASSERT_EQ(sn.n, 3);

	for (n = 1; n < 100; n++) {
		fi_arm(n);
		rc = sl_store_info(s, &info);
		if (!fi_disarm())
			break;
		SL_ASSERT_EQ(rc, -EIO);
	}
	SL_ASSERT_OK(rc);
	SL_ASSERT_EQ(info.records, 3);
	SL_ASSERT_EQ(info.last_window, 100);
	sl_store_close(s);
	tdir_remove(&d);
	return SL_TEST_PASS;
}

/* View registry ---------------------------------------------------------- */

/* Look @p name up and compare its id and definition. */
static int
check_view(struct sl_store *s, const char *name, uint32_t want_id, const char *want_def)
{
	uint32_t id = 0;
	size_t len = 0;
	char *def = NULL;

	SL_ASSERT_OK(sl_store_view_lookup(s, name, &id, &def, &len));
	SL_ASSERT_EQ(id, want_id);
	SL_ASSERT_NOT_NULL(def);
	SL_ASSERT_EQ(len, strlen(want_def));
	SL_ASSERT_STR_EQ(def, want_def);
	free(def);
	return SL_TEST_PASS;
}

static int
check_def(struct sl_store *s, uint32_t id, const char *want_def)
{
	size_t len = 0;
	char *def = NULL;

	SL_ASSERT_OK(sl_store_view_def(s, id, &def, &len));
	SL_ASSERT_EQ(len, strlen(want_def));
	SL_ASSERT_STR_EQ(def, want_def);
	free(def);
	return SL_TEST_PASS;
}

#define CHECK(call)                                                                    \
	do {                                                                           \
		if ((call) != SL_TEST_PASS)                                            \
			return SL_TEST_FAIL;                                           \
	} while (0)

SL_TEST(view_ids_start_at_1_and_are_never_reused)
{
	struct sl_store *s;
	struct tdir d;
	uint32_t id = 77;
	char *def = (char *)"untouched";
	size_t len = 5;

	SL_ASSERT_OK(tdir_make(&d));
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	SL_ASSERT_EQ(sl_store_view_lookup(s, "sales", &id, &def, &len), -ENOENT);
	SL_ASSERT_EQ(id, 77); /* outputs are written on success only */
	SL_ASSERT_STR_EQ(def, "untouched");
	SL_ASSERT_EQ(len, 5);
	SL_ASSERT_EQ(sl_store_view_def(s, 0, &def, &len), -ENOENT); /* 0: statsd, no definition */
	SL_ASSERT_EQ(sl_store_view_def(s, 1, &def, &len), -ENOENT);

	/* The first id is 1; a second name gets the next one. */
	SL_ASSERT_OK(sl_store_view_define(s, "sales", "def-1", 5, false, &id));
	SL_ASSERT_EQ(id, 1);
	SL_ASSERT_OK(sl_store_view_define(s, "popular", "def-2", 5, false, &id));
	SL_ASSERT_EQ(id, 2);
	CHECK(check_view(s, "sales", 1, "def-1"));
	CHECK(check_view(s, "popular", 2, "def-2"));

	/* new_id false on a registered name: same id, new definition. */
	SL_ASSERT_OK(sl_store_view_define(s, "sales", "def-1b", 6, false, &id));
	SL_ASSERT_EQ(id, 1);
	CHECK(check_view(s, "sales", 1, "def-1b"));
	CHECK(check_def(s, 1, "def-1b"));

	/* new_id true: the next id; the old one keeps its last definition. */
	SL_ASSERT_OK(sl_store_view_define(s, "sales", "def-3", 5, true, &id));
	SL_ASSERT_EQ(id, 3);
	CHECK(check_view(s, "sales", 3, "def-3"));
	CHECK(check_def(s, 1, "def-1b"));
	CHECK(check_def(s, 2, "def-2"));
	CHECK(check_def(s, 3, "def-3"));
	SL_ASSERT_EQ(sl_store_view_def(s, 4, &def, &len), -ENOENT);

	/* new_id true on a new name is just a new name. */
	SL_ASSERT_OK(sl_store_view_define(s, "fresh", "def-4", 5, true, &id));
	SL_ASSERT_EQ(id, 4);

	/* Every output is optional. */
	SL_ASSERT_OK(sl_store_view_define(s, "fresh", "def-4b", 6, false, NULL));
	SL_ASSERT_OK(sl_store_view_lookup(s, "fresh", NULL, NULL, NULL));
	SL_ASSERT_OK(sl_store_view_lookup(s, "fresh", &id, NULL, &len));
	SL_ASSERT_EQ(id, 4);
	SL_ASSERT_EQ(len, 6);
	SL_ASSERT_OK(sl_store_view_def(s, 4, NULL, &len));
	SL_ASSERT_EQ(len, 6);
	sl_store_close(s);

	/* Durable, readable read-only, and read-only refuses to define. */
	SL_ASSERT_OK(sl_store_open(d.db, 0, SL_STORE_RDONLY, &s));
	CHECK(check_view(s, "sales", 3, "def-3"));
	CHECK(check_view(s, "popular", 2, "def-2"));
	CHECK(check_def(s, 1, "def-1b"));
	SL_ASSERT_EQ(sl_store_view_define(s, "x", "d", 1, false, &id), -EROFS);
	sl_store_close(s);

	/* The counter survives a reopen: no id is handed out twice. */
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	SL_ASSERT_OK(sl_store_view_define(s, "popular", "def-5", 5, true, &id));
	SL_ASSERT_EQ(id, 5);
	sl_store_close(s);
	tdir_remove(&d);
	return SL_TEST_PASS;
}

SL_TEST(view_define_limits)
{
	static char big[SL_STORE_VIEWDEF_MAX + 1];
	char name[SL_STORE_VIEW_NAME_MAX + 2];
	struct sl_store *s;
	struct tdir d;
	uint32_t id;
	size_t len;
	char *def;

	memset(big, 'y', sizeof(big));
	memset(name, 'n', sizeof(name));
	name[SL_STORE_VIEW_NAME_MAX + 1] = '\0';
	SL_ASSERT_OK(tdir_make(&d));
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	SL_ASSERT_EQ(sl_store_view_define(s, "", "d", 1, false, &id), -EINVAL);
	SL_ASSERT_EQ(sl_store_view_define(s, name, "d", 1, false, &id), -EINVAL); /* 65 bytes */
	SL_ASSERT_EQ(sl_store_view_lookup(s, name, &id, NULL, NULL), -ENOENT);
	SL_ASSERT_EQ(sl_store_view_lookup(s, "", &id, NULL, NULL), -ENOENT);
	SL_ASSERT_EQ(sl_store_view_define(s, "v", big, sizeof(big), false, &id), -EINVAL);
	SL_ASSERT(strstr(sl_store_strerror(s), "definition") != NULL);

	/* Nothing was written by the refusals: the first id is still 1. */
	name[SL_STORE_VIEW_NAME_MAX] = '\0'; /* 64 bytes: the limit itself */
	SL_ASSERT_OK(sl_store_view_define(s, name, big, SL_STORE_VIEWDEF_MAX, false, &id));
	SL_ASSERT_EQ(id, 1);
	SL_ASSERT_OK(sl_store_view_lookup(s, name, &id, &def, &len));
	SL_ASSERT_EQ(len, SL_STORE_VIEWDEF_MAX);
	SL_ASSERT_EQ(def[len], '\0');
	SL_ASSERT(memcmp(def, big, len) == 0);
	free(def);

	/* An empty definition, and one holding a NUL byte: stored as given. */
	SL_ASSERT_OK(sl_store_view_define(s, "empty", NULL, 0, false, &id));
	SL_ASSERT_EQ(id, 2);
	CHECK(check_view(s, "empty", 2, ""));
	SL_ASSERT_OK(sl_store_view_define(s, "nul", "a\0b", 3, false, &id));
	SL_ASSERT_OK(sl_store_view_lookup(s, "nul", &id, &def, &len));
	SL_ASSERT_EQ(len, 3);
	SL_ASSERT(memcmp(def, "a\0b", 4) == 0);
	free(def);

	/* Names are bytes: a '/' in a name is not special. */
	SL_ASSERT_OK(sl_store_view_define(s, "a/b", "slash", 5, false, &id));
	CHECK(check_view(s, "a/b", 4, "slash"));
	sl_store_close(s);
	tdir_remove(&d);
	return SL_TEST_PASS;
}

struct seen_view {
	char name[SL_STORE_VIEW_NAME_MAX + 1];
	uint32_t id;
	char def[16];
};

struct seen_views {
	uint32_t n;
	uint32_t stop_at; /* return 9 after this many; 0: never */
	struct seen_view v[16];
};

static int
collect_view(const char *name, uint32_t id, const char *def, size_t len, void *arg)
{
	struct seen_views *sv = arg;
	struct seen_view *v;

	if (sv->n == sizeof(sv->v) / sizeof(sv->v[0]) || len >= sizeof(v->def))
		return -ERANGE;
	v = &sv->v[sv->n++];
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->id = id;
	memcpy(v->def, def, len); /* not NUL-terminated: it points into the map */
	v->def[len] = '\0';
	return sv->n == sv->stop_at ? 9 : 0;
}

SL_TEST(view_list_in_name_order)
{
	static const char *const names[] = { "zeta", "alpha", "beta", "a", "alpha2" };
	struct seen_views sv;
	struct sl_store *s;
	struct tdir d;

	SL_ASSERT_OK(tdir_make(&d));
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	memset(&sv, 0, sizeof(sv));
	SL_ASSERT_OK(sl_store_view_list(s, collect_view, &sv));
	SL_ASSERT_EQ(sv.n, 0);

	for (uint32_t i = 0; i < 5; i++)
		SL_ASSERT_OK(sl_store_view_define(s, names[i], names[i], strlen(names[i]), false,
						  NULL));
	/* A new id for "beta": the list shows the current one. */
	SL_ASSERT_OK(sl_store_view_define(s, "beta", "beta-v2", 7, true, NULL));
	/* Other meta keys, before and after "view/" (and "viewdef/"), are not listed. */
	SL_ASSERT_OK(sl_store_put_window(s, 3, 1000, 2000, NULL, 0));

	memset(&sv, 0, sizeof(sv));
	SL_ASSERT_OK(sl_store_view_list(s, collect_view, &sv));
	SL_ASSERT_EQ(sv.n, 5);
	SL_ASSERT_STR_EQ(sv.v[0].name, "a");
	SL_ASSERT_EQ(sv.v[0].id, 4);
	SL_ASSERT_STR_EQ(sv.v[0].def, "a");
	SL_ASSERT_STR_EQ(sv.v[1].name, "alpha");
	SL_ASSERT_EQ(sv.v[1].id, 2);
	SL_ASSERT_STR_EQ(sv.v[2].name, "alpha2");
	SL_ASSERT_EQ(sv.v[2].id, 5);
	SL_ASSERT_STR_EQ(sv.v[3].name, "beta");
	SL_ASSERT_EQ(sv.v[3].id, 6);
	SL_ASSERT_STR_EQ(sv.v[3].def, "beta-v2");
	SL_ASSERT_STR_EQ(sv.v[4].name, "zeta");
	SL_ASSERT_EQ(sv.v[4].id, 1);
	SL_ASSERT_STR_EQ(sv.v[4].def, "zeta");

	/* A non-zero callback result stops the walk and is returned. */
	memset(&sv, 0, sizeof(sv));
	sv.stop_at = 2;
	SL_ASSERT_EQ(sl_store_view_list(s, collect_view, &sv), 9);
	SL_ASSERT_EQ(sv.n, 2);
	sl_store_close(s);
	tdir_remove(&d);
	return SL_TEST_PASS;
}

SL_TEST(view_registry_is_atomic_at_every_fault)
{
	struct seen_views sv;
	struct sl_store *s;
	struct tdir d;
	unsigned int n;
	uint32_t id;
	char *def;
	size_t len;
	int rc;

	SL_ASSERT_OK(tdir_make(&d));
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	SL_ASSERT_OK(sl_store_view_define(s, "old", "old-def", 7, false, &id));

	/* A new name: nothing of it, and no id used up, until it succeeds. */
	for (n = 1; n < 100; n++) {
		id = 0;
		fi_arm(n);
		rc = sl_store_view_define(s, "new", "new-def", 7, false, &id);
		if (!fi_disarm())
			break;
		SL_ASSERT_EQ(rc, -EIO);
		SL_ASSERT_EQ(id, 0);
		SL_ASSERT_EQ(sl_store_view_lookup(s, "new", NULL, NULL, NULL), -ENOENT);
		SL_ASSERT_EQ(sl_store_view_def(s, 2, NULL, NULL), -ENOENT);
	}
	SL_ASSERT(n > 4 && n < 100); /* begin, get, get next, 3 x put, commit */
	SL_ASSERT_OK(rc);
	SL_ASSERT_EQ(id, 2);

	/* A new id for an existing name: the old binding holds until it succeeds. */
	for (n = 1; n < 100; n++) {
		fi_arm(n);
		rc = sl_store_view_define(s, "old", "old-v2", 6, true, &id);
		if (!fi_disarm())
			break;
		SL_ASSERT_EQ(rc, -EIO);
		CHECK(check_view(s, "old", 1, "old-def"));
	}
	SL_ASSERT_OK(rc);
	SL_ASSERT_EQ(id, 3);
	CHECK(check_view(s, "old", 3, "old-v2"));

	/* Reads end in a clean error or the right answer. */
	for (n = 1; n < 100; n++) {
		def = NULL;
		fi_arm(n);
		rc = sl_store_view_lookup(s, "old", &id, &def, &len);
		if (!fi_disarm())
			break;
		SL_ASSERT_EQ(rc, -EIO);
		SL_ASSERT_NULL(def);
	}
	SL_ASSERT_OK(rc);
	SL_ASSERT_STR_EQ(def, "old-v2");
	free(def);
	for (n = 1; n < 100; n++) {
		def = NULL;
		fi_arm(n);
		rc = sl_store_view_def(s, 1, &def, &len);
		if (!fi_disarm())
			break;
		SL_ASSERT_EQ(rc, -EIO);
		SL_ASSERT_NULL(def);
	}
	SL_ASSERT_OK(rc);
	SL_ASSERT_STR_EQ(def, "old-def");
	free(def);
	for (n = 1; n < 100; n++) {
		memset(&sv, 0, sizeof(sv));
		fi_arm(n);
		rc = sl_store_view_list(s, collect_view, &sv);
		if (!fi_disarm())
			break;
		SL_ASSERT_EQ(rc, -EIO);
	}
	SL_ASSERT(n > 5 && n < 100);
	SL_ASSERT_OK(rc);
	SL_ASSERT_EQ(sv.n, 2);
	SL_ASSERT_STR_EQ(sv.v[0].name, "new");
	SL_ASSERT_STR_EQ(sv.v[1].name, "old");
	sl_store_close(s);
	tdir_remove(&d);
	return SL_TEST_PASS;
}

/* Retention --------------------------------------------------------------- */

/* Records of view @p view with starts first, first + step, ... (n of them, keys "a", "b"). */
static int
put_windows(struct sl_store *s, uint32_t view, uint64_t first, uint64_t step, uint32_t n)
{
	const struct sl_store_rec w[] = { REC("a", "1"), REC("b", "2") };
	int rc = 0;

	for (uint32_t i = 0; i < n && rc == 0; i++)
		rc = sl_store_put_window(s, view, first + i * step, first + (i + 1) * step, w, 2);
	return rc;
}

static int
count_one(uint32_t view, uint64_t start_ns, uint64_t end_ns, const uint8_t *key, uint32_t key_len,
	  const uint8_t *val, uint32_t val_len, void *arg)
{
	(void)view, (void)start_ns, (void)end_ns, (void)key, (void)key_len, (void)val, (void)val_len;
	(*(uint64_t *)arg)++;
	return 0;
}

static uint64_t
count_recs(struct sl_store *s, uint32_t view, uint64_t from, uint64_t to)
{
	uint64_t n = 0;

	if (sl_store_scan(s, view, from, to, count_one, &n) != 0)
		return UINT64_MAX;
	return n;
}

SL_TEST(delete_before_bounded_batches_oldest_first)
{
	struct sl_store_info info;
	struct sl_store *s;
	struct seen sn;
	struct tdir d;
	uint64_t del = 99;

	SL_ASSERT_OK(tdir_make(&d));
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	/* View 1: starts 100, 200, ..., 1000 (2 records each); neighbours on both sides. */
	SL_ASSERT_OK(put_windows(s, 1, 100, 100, 10));
	SL_ASSERT_OK(put_windows(s, 0, 100, 100, 10));
	SL_ASSERT_OK(put_windows(s, 2, 100, 100, 10));
	SL_ASSERT_OK(put_windows(s, UINT32_MAX, 0, 100, 3));

	/* Nothing to do. */
	SL_ASSERT_OK(sl_store_delete_before(s, 1, 100, 10, &del));
	SL_ASSERT_EQ(del, 0);
	del = 99;
	SL_ASSERT_OK(sl_store_delete_before(s, 1, 0, 10, &del));
	SL_ASSERT_EQ(del, 0);
	del = 99;
	SL_ASSERT_OK(sl_store_delete_before(s, 1, 1000, 0, &del));
	SL_ASSERT_EQ(del, 0);
	SL_ASSERT_EQ(count_recs(s, 1, 0, UINT64_MAX), 20);

	/* Before 450: windows 100..400, 8 records, in batches of 3: 3, 3, 2. */
	SL_ASSERT_OK(sl_store_delete_before(s, 1, 450, 3, &del));
	SL_ASSERT_EQ(del, 3);
	SL_ASSERT_OK(scan(s, 1, 0, UINT64_MAX, &sn));
	SL_ASSERT_EQ(sn.n, 17);
	SL_ASSERT_EQ(sn.r[0].start, 200); /* the oldest went first, in key order */
	SL_ASSERT_STR_EQ(sn.r[0].key, "b");
	SL_ASSERT_OK(sl_store_delete_before(s, 1, 450, 3, &del));
	SL_ASSERT_EQ(del, 3);
	SL_ASSERT_OK(sl_store_delete_before(s, 1, 450, 3, &del));
	SL_ASSERT_EQ(del, 2); /* < max_keys: done */
	SL_ASSERT_OK(sl_store_delete_before(s, 1, 450, 3, &del));
	SL_ASSERT_EQ(del, 0);
	SL_ASSERT_OK(scan(s, 1, 0, UINT64_MAX, &sn));
	SL_ASSERT_EQ(sn.n, 12);
	SL_ASSERT_EQ(sn.r[0].start, 500);
	SL_ASSERT_STR_EQ(sn.r[0].key, "a");
	SL_ASSERT_EQ(sn.r[11].start, 1000);

	/* Exactly max_keys left: all of them, and the next call finds none. */
	SL_ASSERT_OK(sl_store_delete_before(s, 1, 600, 2, &del));
	SL_ASSERT_EQ(del, 2);
	SL_ASSERT_OK(sl_store_delete_before(s, 1, 600, 2, &del));
	SL_ASSERT_EQ(del, 0);

	/* The bound is exclusive: a window starting at before_ns stays. */
	SL_ASSERT_EQ(count_recs(s, 1, 600, 601), 2);

	/* Other views are untouched, the last one too, and last_window stays. */
	SL_ASSERT_EQ(count_recs(s, 0, 0, UINT64_MAX), 20);
	SL_ASSERT_EQ(count_recs(s, 2, 0, UINT64_MAX), 20);
	SL_ASSERT_EQ(count_recs(s, UINT32_MAX, 0, UINT64_MAX), 6);
	SL_ASSERT_OK(sl_store_delete_before(s, UINT32_MAX, UINT64_MAX, 100, &del));
	SL_ASSERT_EQ(del, 6);
	SL_ASSERT_EQ(count_recs(s, 2, 0, UINT64_MAX), 20);
	SL_ASSERT_OK(sl_store_delete_before(s, 0, 300, 100, NULL));
	SL_ASSERT_EQ(count_recs(s, 0, 0, UINT64_MAX), 16);
	SL_ASSERT_EQ(count_recs(s, 1, 0, UINT64_MAX), 10);
	SL_ASSERT_OK(sl_store_info(s, &info));
	SL_ASSERT_EQ(info.last_window, 1000);
	SL_ASSERT_EQ(info.records, 10 + 16 + 20);

	/* A view with no records at all, before every other view's. */
	SL_ASSERT_OK(sl_store_delete_before(s, 3, UINT64_MAX, 100, &del));
	SL_ASSERT_EQ(del, 0);
	SL_ASSERT_EQ(count_recs(s, 2, 0, UINT64_MAX), 20);
	sl_store_close(s);

	SL_ASSERT_OK(sl_store_open(d.db, 0, SL_STORE_RDONLY, &s));
	SL_ASSERT_EQ(sl_store_delete_before(s, 1, 2000, 10, &del), -EROFS);
	SL_ASSERT_EQ(count_recs(s, 1, 0, UINT64_MAX), 10);
	sl_store_close(s);
	tdir_remove(&d);
	return SL_TEST_PASS;
}

/* Many records over many pages: the cursor must not skip one after a delete. */
SL_TEST(delete_before_across_pages)
{
	enum { N = 3000 };
	static uint8_t val[100];
	struct sl_store_rec *recs = calloc(N, sizeof(*recs));
	char (*keys)[8] = calloc(N, sizeof(*keys));
	struct sl_store_info info;
	struct sl_store *s;
	struct tdir d;
	uint64_t del, total = 0;

	SL_ASSERT_NOT_NULL(recs);
	SL_ASSERT_NOT_NULL(keys);
	for (uint32_t i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%05u", i);
		recs[i] = (struct sl_store_rec){ (const uint8_t *)keys[i], 6, val, sizeof(val) };
	}
	SL_ASSERT_OK(tdir_make(&d));
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	for (uint32_t w = 0; w < 4; w++)
		SL_ASSERT_OK(sl_store_put_window(s, 7, 1000 * (w + 1), 1000 * (w + 2), recs, N));
	SL_ASSERT_OK(sl_store_put_window(s, 8, 0, 1000, recs, N));
	/* Windows 1000, 2000, 3000 go in batches of 1000 (deleting inside pages and whole ones). */
	do {
		SL_ASSERT_OK(sl_store_delete_before(s, 7, 4000, 1000, &del));
		total += del;
	} while (del == 1000);
	SL_ASSERT_EQ(total, 3 * N);
	SL_ASSERT_EQ(count_recs(s, 7, 0, 4000), 0);
	SL_ASSERT_EQ(count_recs(s, 7, 4000, UINT64_MAX), N);
	SL_ASSERT_EQ(count_recs(s, 8, 0, UINT64_MAX), N);
	SL_ASSERT_OK(sl_store_info(s, &info));
	SL_ASSERT_EQ(info.records, 2 * N);
	sl_store_close(s);
	tdir_remove(&d);
	free(recs);
	free(keys);
	return SL_TEST_PASS;
}

SL_TEST(delete_before_is_atomic_at_every_fault)
{
	struct sl_store *s;
	struct seen sn;
	struct tdir d;
	uint64_t del;
	unsigned int n;
	int rc;

	SL_ASSERT_OK(tdir_make(&d));
	SL_ASSERT_OK(sl_store_open(d.db, 0, 0, &s));
	SL_ASSERT_OK(put_windows(s, 1, 100, 100, 4));
	SL_ASSERT_OK(put_windows(s, 2, 100, 100, 2));
	for (n = 1; n < 100; n++) {
		del = 99;
		fi_arm(n);
		rc = sl_store_delete_before(s, 1, 300, 10, &del);
		if (!fi_disarm())
			break;
		SL_ASSERT_EQ(rc, -EIO);
		SL_ASSERT_EQ(del, 99);
		SL_ASSERT_EQ(count_recs(s, 1, 0, UINT64_MAX), 8);
	}
	SL_ASSERT(n > 9 && n < 100); /* begin, cursor open, 5 gets, 4 deletes, commit */
	SL_ASSERT_OK(rc);
	SL_ASSERT_EQ(del, 4);
	SL_ASSERT_OK(scan(s, 1, 0, UINT64_MAX, &sn));
	SL_ASSERT_EQ(sn.n, 4);
	SL_ASSERT_EQ(sn.r[0].start, 300);
	SL_ASSERT_EQ(count_recs(s, 2, 0, UINT64_MAX), 4);
	sl_store_close(s);
	tdir_remove(&d);
	return SL_TEST_PASS;
}

SL_TEST_MAIN()
