/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * Closed windows in LMDB. See store.h for the on-disk layout and the threading
 * model. Every LMDB return code is translated here, once, by store_errno(); the
 * text of the last failure is kept in the handle for the caller to log.
 */

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <lmdb.h>

#include "store.h"

/* The process umask, read without changing it for long. */
static mode_t
current_umask(void)
{
	mode_t m = umask(0);

	umask(m);
	return m;
}

#define SL_STORE_MAP_DEFAULT (1ULL << 30)
#define SL_STORE_MAX_DBS 4
/* Mode of data.mdb, and of lock.mdb, which readers write (the umask applies). */
#define SL_STORE_FILE_MODE 0640
#define SL_STORE_LOCK_MODE 0660
#define SL_STORE_DIR_MODE 0750
/* "windows" key prefix: u32 BE view, u64 BE window start. */
#define SL_STORE_KEY_PREFIX 12u
/* "windows" value prefix: u64 LE window end. */
#define SL_STORE_VAL_PREFIX 8u
#define SL_STORE_ERR_LEN 160
#define SL_STORE_META_KEY_LEN 32

struct sl_store {
	MDB_env *env;
	MDB_dbi meta;
	MDB_dbi windows;
	unsigned int flags;
	uint32_t key_max;                /* largest group key accepted by put_window */
	char err[SL_STORE_ERR_LEN];      /* text of the last failure, "" if none */
};

/* Text of the last failed sl_store_open() of this thread (its handle is gone). */
static __thread char open_err[SL_STORE_ERR_LEN];

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, (uint32_t)v);
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void
put_le64(uint8_t *p, uint64_t v)
{
	for (unsigned int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static uint64_t
get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	for (unsigned int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static uint32_t
get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * Translate an LMDB return code into a negative errno. LMDB returns either its
 * own MDB_* codes (all negative) or a plain errno from the OS (positive).
 */
static int
store_errno(int rc)
{
	if (rc == MDB_SUCCESS)
		return 0;
	if (rc == MDB_MAP_FULL)
		return -ENOSPC;
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc > 0)
		return -rc;
	return -EIO;
}

static void __attribute__((format(printf, 2, 3)))
store_seterr(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, SL_STORE_ERR_LEN, fmt, ap);
	va_end(ap);
}

/* Record the failure of LMDB call @p what and return its translation. */
static int
store_fail(struct sl_store *s, const char *what, int rc)
{
	store_seterr(s->err, "%s: %s", what, mdb_strerror(rc));
	return store_errno(rc);
}

/* Build the "windows" key into @p buf; the caller checked @p key_len. */
static size_t
win_key(uint8_t *buf, uint32_t view, uint64_t start_ns, const uint8_t *key, uint32_t key_len)
{
	put_be32(buf, view);
	put_be64(buf + 4, start_ns);
	if (key_len > 0)
		memcpy(buf + SL_STORE_KEY_PREFIX, key, key_len);
	return SL_STORE_KEY_PREFIX + key_len;
}

static size_t
last_window_key(char *buf, size_t cap, uint32_t view)
{
	return (size_t)snprintf(buf, cap, "last_window/%u", view);
}

/*
 * Open both databases and check (or, read-write, write) the schema version,
 * in one transaction. Read-only, a database the writer has not created yet is
 * -ENOENT, like a missing data.mdb.
 */
static int
store_init_dbs(struct sl_store *s)
{
	const int rdonly = (s->flags & SL_STORE_RDONLY) != 0;
	const unsigned int dbflags = rdonly ? 0 : MDB_CREATE;
	uint8_t ver_buf[4];
	static char name[] = "schema_version";
	MDB_val k = { sizeof(name) - 1, name };
	MDB_val v;
	MDB_txn *txn = NULL;
	int rc;

	rc = mdb_txn_begin(s->env, NULL, rdonly ? MDB_RDONLY : 0, &txn);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_txn_begin", rc);
		goto out;
	}
	rc = mdb_dbi_open(txn, "meta", dbflags, &s->meta);
	if (rc == MDB_SUCCESS)
		rc = mdb_dbi_open(txn, "windows", dbflags, &s->windows);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_dbi_open", rc);
		goto out;
	}

	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc == MDB_NOTFOUND && !rdonly) {
		put_le32(ver_buf, SL_STORE_SCHEMA_VERSION);
		v.mv_size = sizeof(ver_buf);
		v.mv_data = ver_buf;
		rc = mdb_put(txn, s->meta, &k, &v, 0);
		if (rc != MDB_SUCCESS) {
			rc = store_fail(s, "mdb_put(schema_version)", rc);
			goto out;
		}
	} else if (rc == MDB_NOTFOUND) {
		store_seterr(s->err, "no schema_version in meta");
		rc = -EPROTO;
		goto out;
	} else if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_get(schema_version)", rc);
		goto out;
	} else if (v.mv_size != 4 || get_le32(v.mv_data) != SL_STORE_SCHEMA_VERSION) {
		store_seterr(s->err, "schema_version %u (%zu bytes), expected %u",
			     v.mv_size == 4 ? get_le32(v.mv_data) : 0, v.mv_size,
			     SL_STORE_SCHEMA_VERSION);
		rc = -EPROTO;
		goto out;
	}

	/* Committing (even a read-only txn) makes the dbi handles usable later. */
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != MDB_SUCCESS)
		rc = store_fail(s, "mdb_txn_commit", rc);
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

int
sl_store_open(const char *dir, uint64_t map_size, unsigned int flags,
	      struct sl_store **ret_store)
{
	const int rdonly = (flags & SL_STORE_RDONLY) != 0;
	struct sl_store *s;
	int dead, maxkey;
	int rc;

	assert(dir != NULL && ret_store != NULL);
	if ((flags & ~SL_STORE_RDONLY) != 0) {
		store_seterr(open_err, "open '%s': unknown flags 0x%x", dir, flags);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		store_seterr(open_err, "open '%s': out of memory", dir);
		return -ENOMEM;
	}
	s->flags = flags;

	if (!rdonly && mkdir(dir, SL_STORE_DIR_MODE) < 0 && errno != EEXIST) {
		rc = -errno;
		store_seterr(s->err, "mkdir: %s", strerror(-rc));
		goto err;
	}

	rc = mdb_env_create(&s->env);
	if (rc != MDB_SUCCESS) {
		s->env = NULL;
		rc = store_fail(s, "mdb_env_create", rc);
		goto err;
	}
	rc = mdb_env_set_maxdbs(s->env, SL_STORE_MAX_DBS);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_env_set_maxdbs", rc);
		goto err;
	}
	/* A reader without an explicit size maps what the writer recorded. */
	if (map_size != 0 || !rdonly) {
		rc = mdb_env_set_mapsize(s->env, map_size != 0 ? map_size : SL_STORE_MAP_DEFAULT);
		if (rc != MDB_SUCCESS) {
			rc = store_fail(s, "mdb_env_set_mapsize", rc);
			goto err;
		}
	}
	/*
	 * MDB_RDONLY never creates data.mdb (a missing one is ENOENT, and so is an
	 * empty one). MDB_NOTLS: read transactions are not tied to a thread slot,
	 * so a handle may move between threads.
	 */
	rc = mdb_env_open(s->env, dir, MDB_NOTLS | (rdonly ? MDB_RDONLY : 0), SL_STORE_FILE_MODE);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_env_open", rc);
		goto err;
	}
	if (!rdonly) {
		char lock[4096];

		/*
		 * Readers of the group (sluice-ctld, sluicectl) register their
		 * transactions in lock.mdb, so it is group-writable whatever the
		 * umask says about the group (its bits for others still apply);
		 * data.mdb stays 0640 minus the umask.
		 */
		if ((size_t)snprintf(lock, sizeof(lock), "%s/lock.mdb", dir) < sizeof(lock))
			(void)chmod(lock, SL_STORE_LOCK_MODE & ~(current_umask() & 0007));
		/* Free reader slots of dead processes: they would pin old pages forever. */
		rc = mdb_reader_check(s->env, &dead);
		if (rc != MDB_SUCCESS) {
			rc = store_fail(s, "mdb_reader_check", rc);
			goto err;
		}
	}
	maxkey = mdb_env_get_maxkeysize(s->env);
	s->key_max = SL_STORE_KEY_MAX;
	if (maxkey < (int)(SL_STORE_KEY_PREFIX + SL_STORE_KEY_MAX))
		s->key_max = maxkey > (int)SL_STORE_KEY_PREFIX ? maxkey - SL_STORE_KEY_PREFIX : 0;

	rc = store_init_dbs(s);
	if (rc < 0)
		goto err;

	*ret_store = s;
	return 0;
err:
	store_seterr(open_err, "open '%s': %s", dir, s->err);
	sl_store_close(s); /* lmdb.h: a failed mdb_env_open() still needs mdb_env_close() */
	return rc;
}

void
sl_store_close(struct sl_store *s)
{
	if (s == NULL)
		return;
	if (s->env != NULL)
		mdb_env_close(s->env);
	free(s);
}

const char *
sl_store_strerror(const struct sl_store *s)
{
	return s != NULL ? s->err : open_err;
}

/* Raise "last_window/<view>" to @p start_ns if it is lower or absent. */
static int
last_window_raise(struct sl_store *s, MDB_txn *txn, uint32_t view, uint64_t start_ns)
{
	char name[SL_STORE_META_KEY_LEN];
	uint8_t buf[8];
	MDB_val k, v;
	int rc;

	k.mv_size = last_window_key(name, sizeof(name), view);
	k.mv_data = name;
	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc == MDB_SUCCESS && v.mv_size == 8 && get_le64(v.mv_data) >= start_ns)
		return 0;
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		return store_fail(s, "mdb_get(last_window)", rc);

	put_le64(buf, start_ns);
	v.mv_size = sizeof(buf);
	v.mv_data = buf;
	rc = mdb_put(txn, s->meta, &k, &v, 0);
	if (rc != MDB_SUCCESS)
		return store_fail(s, "mdb_put(last_window)", rc);
	return 0;
}

int
sl_store_put_window(struct sl_store *s, uint32_t view, uint64_t start_ns, uint64_t end_ns,
		    const struct sl_store_rec *recs, uint32_t n)
{
	uint8_t kbuf[SL_STORE_KEY_PREFIX + SL_STORE_KEY_MAX];
	MDB_txn *txn = NULL;
	MDB_val k, v;
	int append = 1;
	uint32_t i;
	int rc;

	assert(s != NULL && (recs != NULL || n == 0));
	if (s->flags & SL_STORE_RDONLY) {
		store_seterr(s->err, "put_window: read-only handle");
		return -EROFS;
	}
	/* Check every key first: a window is written completely or not at all. */
	for (i = 0; i < n; i++) {
		if (recs[i].key_len > s->key_max) {
			store_seterr(s->err, "put_window: record %u: key of %u bytes, limit %u", i,
				     recs[i].key_len, s->key_max);
			return -EINVAL;
		}
	}

	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_txn_begin", rc);
		goto out;
	}
	for (i = 0; i < n; i++) {
		k.mv_size = win_key(kbuf, view, start_ns, recs[i].key, recs[i].key_len);
		k.mv_data = kbuf;
		/* MDB_RESERVE: write end_ns and the state straight into the page. */
		v.mv_size = SL_STORE_VAL_PREFIX + (size_t)recs[i].val_len;
		v.mv_data = NULL;
		/*
		 * Records in key order that sort after everything stored (the newest
		 * window of the last view) are appended: LMDB then fills pages
		 * sequentially instead of splitting them. The first key that is not
		 * after the end (MDB_KEYEXIST) switches to ordinary inserts.
		 */
		if (append) {
			rc = mdb_put(txn, s->windows, &k, &v, MDB_RESERVE | MDB_APPEND);
			if (rc == MDB_KEYEXIST) {
				append = 0;
				v.mv_size = SL_STORE_VAL_PREFIX + (size_t)recs[i].val_len;
				v.mv_data = NULL;
				rc = mdb_put(txn, s->windows, &k, &v, MDB_RESERVE);
			}
		} else {
			rc = mdb_put(txn, s->windows, &k, &v, MDB_RESERVE);
		}
		if (rc != MDB_SUCCESS) {
			rc = store_fail(s, "mdb_put(window)", rc);
			goto out;
		}
		put_le64(v.mv_data, end_ns);
		if (recs[i].val_len > 0)
			memcpy((uint8_t *)v.mv_data + SL_STORE_VAL_PREFIX, recs[i].val,
			       recs[i].val_len);
	}
	rc = last_window_raise(s, txn, view, start_ns);
	if (rc < 0)
		goto out;

	/* On failure mdb_txn_commit() has already freed the transaction. */
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != MDB_SUCCESS)
		rc = store_fail(s, "mdb_txn_commit", rc);
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

int
sl_store_get(struct sl_store *s, uint32_t view, uint64_t start_ns, const uint8_t *key,
	     uint32_t key_len, uint8_t *buf, uint32_t cap, uint32_t *ret_len)
{
	uint8_t kbuf[SL_STORE_KEY_PREFIX + SL_STORE_KEY_MAX];
	MDB_txn *txn = NULL;
	MDB_val k, v;
	size_t len;
	int rc;

	assert(s != NULL && ret_len != NULL && (buf != NULL || cap == 0));
	if (key_len > s->key_max) {
		store_seterr(s->err, "get: key of %u bytes, limit %u", key_len, s->key_max);
		return -EINVAL;
	}
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_txn_begin", rc);
		goto out;
	}
	k.mv_size = win_key(kbuf, view, start_ns, key, key_len);
	k.mv_data = kbuf;
	rc = mdb_get(txn, s->windows, &k, &v);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_get(window)", rc);
		goto out;
	}
	if (v.mv_size < SL_STORE_VAL_PREFIX || v.mv_size - SL_STORE_VAL_PREFIX > UINT32_MAX) {
		store_seterr(s->err, "get: corrupt value of %zu bytes", v.mv_size);
		rc = -EIO;
		goto out;
	}
	len = v.mv_size - SL_STORE_VAL_PREFIX;
	*ret_len = (uint32_t)len;
	if (len > cap) {
		rc = -ENOBUFS;
		goto out;
	}
	if (len > 0)
		memcpy(buf, (const uint8_t *)v.mv_data + SL_STORE_VAL_PREFIX, len);
	rc = 0;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

int
sl_store_scan(struct sl_store *s, uint32_t view, uint64_t from_ns, uint64_t to_ns,
	      sl_store_scan_fn fn, void *arg)
{
	uint8_t kbuf[SL_STORE_KEY_PREFIX];
	MDB_cursor *cur = NULL;
	MDB_txn *txn = NULL;
	const uint8_t *kp, *vp;
	uint64_t start;
	MDB_val k, v;
	int rc;

	assert(s != NULL && fn != NULL);
	if (from_ns >= to_ns)
		return 0;
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_txn_begin", rc);
		goto out;
	}
	rc = mdb_cursor_open(txn, s->windows, &cur);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_cursor_open", rc);
		goto out;
	}
	k.mv_size = win_key(kbuf, view, from_ns, NULL, 0);
	k.mv_data = kbuf;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		kp = k.mv_data;
		vp = v.mv_data;
		if (k.mv_size < SL_STORE_KEY_PREFIX || v.mv_size < SL_STORE_VAL_PREFIX ||
		    v.mv_size - SL_STORE_VAL_PREFIX > UINT32_MAX) {
			store_seterr(s->err, "scan: corrupt record (key %zu, value %zu bytes)",
				     k.mv_size, v.mv_size);
			rc = -EIO;
			goto out;
		}
		start = get_be64(kp + 4);
		if (get_be32(kp) != view || start >= to_ns)
			break;
		rc = fn(view, start, get_le64(vp), kp + SL_STORE_KEY_PREFIX,
			(uint32_t)(k.mv_size - SL_STORE_KEY_PREFIX), vp + SL_STORE_VAL_PREFIX,
			(uint32_t)(v.mv_size - SL_STORE_VAL_PREFIX), arg);
		if (rc != 0)
			goto out;
	}
	if (rc == MDB_NOTFOUND)
		rc = MDB_SUCCESS;
	if (rc != MDB_SUCCESS)
		rc = store_fail(s, "mdb_cursor_get", rc);
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

/* ---- view registry ---- */

#define VIEW_KEY_PREFIX "view/"
#define VIEWDEF_KEY_PREFIX "viewdef/"
#define NEXT_VIEW_ID_KEY "next_view_id"
/* "view/" + the longest name. */
#define VIEW_KEY_MAX (sizeof(VIEW_KEY_PREFIX) - 1 + SL_STORE_VIEW_NAME_MAX)
/* "viewdef/" + u32 BE id. */
#define VIEWDEF_KEY_LEN (sizeof(VIEWDEF_KEY_PREFIX) - 1 + 4)

/* "view/<name>" into @p buf; the caller checked the name's length. */
static size_t
view_key(char *buf, const char *name, size_t name_len)
{
	memcpy(buf, VIEW_KEY_PREFIX, sizeof(VIEW_KEY_PREFIX) - 1);
	memcpy(buf + sizeof(VIEW_KEY_PREFIX) - 1, name, name_len);
	return sizeof(VIEW_KEY_PREFIX) - 1 + name_len;
}

/* "viewdef/<u32 BE id>": big endian, so that definitions sort by id. */
static size_t
viewdef_key(uint8_t *buf, uint32_t id)
{
	memcpy(buf, VIEWDEF_KEY_PREFIX, sizeof(VIEWDEF_KEY_PREFIX) - 1);
	put_be32(buf + sizeof(VIEWDEF_KEY_PREFIX) - 1, id);
	return VIEWDEF_KEY_LEN;
}

/*
 * Read the definition of @p id inside @p txn. A registered id without a
 * definition cannot be written by sl_store_view_define() (both go in one
 * transaction), so it is reported as corruption, not as a missing view.
 */
static int
viewdef_get(struct sl_store *s, MDB_txn *txn, uint32_t id, bool registered, MDB_val *ret_def)
{
	uint8_t kbuf[VIEWDEF_KEY_LEN];
	MDB_val k;
	int rc;

	k.mv_size = viewdef_key(kbuf, id);
	k.mv_data = kbuf;
	rc = mdb_get(txn, s->meta, &k, ret_def);
	if (rc == MDB_NOTFOUND && registered) {
		store_seterr(s->err, "view id %u is registered but has no definition", id);
		return -EIO;
	}
	if (rc != MDB_SUCCESS)
		return store_fail(s, "mdb_get(viewdef)", rc);
	if (ret_def->mv_size > SL_STORE_VIEWDEF_MAX) {
		store_seterr(s->err, "definition of view id %u: %zu bytes, limit %u", id,
			     ret_def->mv_size, SL_STORE_VIEWDEF_MAX);
		return -EIO;
	}
	return 0;
}

/* Copy a definition out of the map: malloc()ed and NUL-terminated. */
static int
def_copy(struct sl_store *s, const MDB_val *def, char **ret_def)
{
	char *p = malloc(def->mv_size + 1);

	if (p == NULL) {
		store_seterr(s->err, "view definition: out of memory");
		return -ENOMEM;
	}
	if (def->mv_size > 0)
		memcpy(p, def->mv_data, def->mv_size);
	p[def->mv_size] = '\0';
	*ret_def = p;
	return 0;
}

/* The id stored under "view/<name>" (in @p v); -EIO when it is not a valid id. */
static int
view_id_decode(struct sl_store *s, const MDB_val *v, uint32_t *ret_id)
{
	uint32_t id;

	if (v->mv_size != 4 || (id = get_le32(v->mv_data)) == 0) {
		store_seterr(s->err, "corrupt view id (%zu bytes)", v->mv_size);
		return -EIO;
	}
	*ret_id = id;
	return 0;
}

int
sl_store_view_lookup(struct sl_store *s, const char *name, uint32_t *ret_id, char **ret_def,
		     size_t *ret_len)
{
	char kbuf[VIEW_KEY_MAX];
	size_t name_len;
	MDB_txn *txn = NULL;
	MDB_val k, v, def;
	uint32_t id;
	char *copy = NULL;
	int rc;

	assert(s != NULL && name != NULL);
	name_len = strlen(name);
	/* A name that sl_store_view_define() refuses cannot be registered. */
	if (name_len == 0 || name_len > SL_STORE_VIEW_NAME_MAX) {
		store_seterr(s->err, "view_lookup: no view '%.*s'", SL_STORE_VIEW_NAME_MAX, name);
		return -ENOENT;
	}
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_txn_begin", rc);
		goto out;
	}
	k.mv_size = view_key(kbuf, name, name_len);
	k.mv_data = kbuf;
	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_get(view)", rc);
		goto out;
	}
	rc = view_id_decode(s, &v, &id);
	if (rc < 0)
		goto out;
	if (ret_def != NULL || ret_len != NULL) {
		rc = viewdef_get(s, txn, id, true, &def);
		if (rc < 0)
			goto out;
		if (ret_def != NULL) {
			rc = def_copy(s, &def, &copy);
			if (rc < 0)
				goto out;
			*ret_def = copy;
		}
		if (ret_len != NULL)
			*ret_len = def.mv_size;
	}
	if (ret_id != NULL)
		*ret_id = id;
	rc = 0;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

int
sl_store_view_def(struct sl_store *s, uint32_t id, char **ret_def, size_t *ret_len)
{
	MDB_txn *txn = NULL;
	MDB_val def;
	char *copy = NULL;
	int rc;

	assert(s != NULL);
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_txn_begin", rc);
		goto out;
	}
	rc = viewdef_get(s, txn, id, false, &def);
	if (rc < 0)
		goto out;
	if (ret_def != NULL) {
		rc = def_copy(s, &def, &copy);
		if (rc < 0)
			goto out;
		*ret_def = copy;
	}
	if (ret_len != NULL)
		*ret_len = def.mv_size;
	rc = 0;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

/* Put one meta record inside @p txn; @p what names it in the error text. */
static int
meta_put(struct sl_store *s, MDB_txn *txn, const void *key, size_t key_len, const void *val,
	 size_t val_len, const char *what)
{
	MDB_val k = { key_len, (void *)(uintptr_t)key };
	MDB_val v = { val_len, (void *)(uintptr_t)val };
	int rc;

	rc = mdb_put(txn, s->meta, &k, &v, 0);
	if (rc != MDB_SUCCESS) {
		char buf[48];

		snprintf(buf, sizeof(buf), "mdb_put(%s)", what);
		return store_fail(s, buf, rc);
	}
	return 0;
}

int
sl_store_view_define(struct sl_store *s, const char *name, const char *def, size_t len,
		     bool new_id, uint32_t *ret_id)
{
	static char next_name[] = NEXT_VIEW_ID_KEY;
	char kbuf[VIEW_KEY_MAX];
	uint8_t dkey[VIEWDEF_KEY_LEN], idbuf[4], nextbuf[4];
	MDB_val k, v;
	MDB_txn *txn = NULL;
	size_t name_len;
	uint32_t id = 0, next;
	int rc;

	assert(s != NULL && name != NULL && (def != NULL || len == 0));
	name_len = strlen(name);
	if (name_len == 0 || name_len > SL_STORE_VIEW_NAME_MAX) {
		store_seterr(s->err, "view_define: name of %zu bytes, expected 1..%u", name_len,
			     SL_STORE_VIEW_NAME_MAX);
		return -EINVAL;
	}
	if (len > SL_STORE_VIEWDEF_MAX) {
		store_seterr(s->err, "view_define: definition of %zu bytes, limit %u", len,
			     SL_STORE_VIEWDEF_MAX);
		return -EINVAL;
	}
	if (s->flags & SL_STORE_RDONLY) {
		store_seterr(s->err, "view_define: read-only handle");
		return -EROFS;
	}

	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_txn_begin", rc);
		goto out;
	}
	k.mv_size = view_key(kbuf, name, name_len);
	k.mv_data = kbuf;
	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc == MDB_SUCCESS && !new_id) {
		rc = view_id_decode(s, &v, &id);
		if (rc < 0)
			goto out;
	} else if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
		rc = store_fail(s, "mdb_get(view)", rc);
		goto out;
	}

	if (id == 0) {
		/* A new id: never one handed out before, whatever names came and went. */
		k.mv_size = sizeof(next_name) - 1;
		k.mv_data = next_name;
		rc = mdb_get(txn, s->meta, &k, &v);
		if (rc == MDB_NOTFOUND) {
			next = 1;
		} else if (rc != MDB_SUCCESS) {
			rc = store_fail(s, "mdb_get(next_view_id)", rc);
			goto out;
		} else if (v.mv_size != 4 || (next = get_le32(v.mv_data)) == 0) {
			store_seterr(s->err, "corrupt next_view_id (%zu bytes)", v.mv_size);
			rc = -EIO;
			goto out;
		}
		if (next == UINT32_MAX) {
			store_seterr(s->err, "view_define: every view id is used");
			rc = -ENOSPC;
			goto out;
		}
		id = next;
		put_le32(nextbuf, next + 1);
		rc = meta_put(s, txn, next_name, sizeof(next_name) - 1, nextbuf, sizeof(nextbuf),
			      "next_view_id");
		if (rc < 0)
			goto out;
		put_le32(idbuf, id);
		rc = meta_put(s, txn, kbuf, view_key(kbuf, name, name_len), idbuf, sizeof(idbuf),
			      "view");
		if (rc < 0)
			goto out;
	}
	rc = meta_put(s, txn, dkey, viewdef_key(dkey, id), len > 0 ? def : "", len, "viewdef");
	if (rc < 0)
		goto out;

	/* On failure mdb_txn_commit() has already freed the transaction. */
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_txn_commit", rc);
		goto out;
	}
	if (ret_id != NULL)
		*ret_id = id;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

int
sl_store_view_list(struct sl_store *s, sl_store_view_fn fn, void *arg)
{
	static char prefix[] = VIEW_KEY_PREFIX;
	const size_t plen = sizeof(prefix) - 1;
	char name[SL_STORE_VIEW_NAME_MAX + 1];
	MDB_cursor *cur = NULL;
	MDB_txn *txn = NULL;
	MDB_val k, v, def;
	uint32_t id;
	int rc;

	assert(s != NULL && fn != NULL);
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_txn_begin", rc);
		goto out;
	}
	rc = mdb_cursor_open(txn, s->meta, &cur);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_cursor_open", rc);
		goto out;
	}
	/* Meta keys sort bytewise: the "view/" keys are one run, in name order. */
	k.mv_size = plen;
	k.mv_data = prefix;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		if (k.mv_size == plen || k.mv_size - plen > SL_STORE_VIEW_NAME_MAX) {
			store_seterr(s->err, "view_list: corrupt view name (%zu bytes)",
				     k.mv_size - plen);
			rc = -EIO;
			goto out;
		}
		rc = view_id_decode(s, &v, &id);
		if (rc < 0)
			goto out;
		rc = viewdef_get(s, txn, id, true, &def);
		if (rc < 0)
			goto out;
		memcpy(name, (const char *)k.mv_data + plen, k.mv_size - plen);
		name[k.mv_size - plen] = '\0';
		rc = fn(name, id, def.mv_data, def.mv_size, arg);
		if (rc != 0)
			goto out;
	}
	if (rc == MDB_NOTFOUND)
		rc = MDB_SUCCESS;
	if (rc != MDB_SUCCESS)
		rc = store_fail(s, "mdb_cursor_get", rc);
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

/* ---- retention ---- */

int
sl_store_delete_before(struct sl_store *s, uint32_t view, uint64_t before_ns, uint32_t max_keys,
		       uint64_t *ret_deleted)
{
	uint8_t kbuf[SL_STORE_KEY_PREFIX];
	MDB_cursor *cur = NULL;
	MDB_txn *txn = NULL;
	const uint8_t *kp;
	uint64_t deleted = 0;
	MDB_val k, v;
	int rc;

	assert(s != NULL);
	if (s->flags & SL_STORE_RDONLY) {
		store_seterr(s->err, "delete_before: read-only handle");
		return -EROFS;
	}
	if (max_keys == 0 || before_ns == 0) {
		if (ret_deleted != NULL)
			*ret_deleted = 0;
		return 0;
	}
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_txn_begin", rc);
		goto out;
	}
	rc = mdb_cursor_open(txn, s->windows, &cur);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_cursor_open", rc);
		goto out;
	}
	/*
	 * Keys sort by view, then start: the view's oldest records come first.
	 * After mdb_cursor_del() the cursor already stands on the next record,
	 * and LMDB's MDB_NEXT knows it (it does not skip one).
	 */
	k.mv_size = win_key(kbuf, view, 0, NULL, 0);
	k.mv_data = kbuf;
	while (deleted < max_keys) {
		rc = mdb_cursor_get(cur, &k, &v, deleted == 0 ? MDB_SET_RANGE : MDB_NEXT);
		if (rc != MDB_SUCCESS)
			break;
		kp = k.mv_data;
		if (k.mv_size < SL_STORE_KEY_PREFIX) {
			store_seterr(s->err, "delete_before: corrupt key of %zu bytes", k.mv_size);
			rc = -EIO;
			goto out;
		}
		if (get_be32(kp) != view || get_be64(kp + 4) >= before_ns)
			break;
		rc = mdb_cursor_del(cur, 0);
		if (rc != MDB_SUCCESS) {
			rc = store_fail(s, "mdb_cursor_del", rc);
			goto out;
		}
		deleted++;
	}
	if (rc == MDB_NOTFOUND)
		rc = MDB_SUCCESS;
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_cursor_get", rc);
		goto out;
	}
	mdb_cursor_close(cur);
	cur = NULL;
	/* On failure mdb_txn_commit() has already freed the transaction. */
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_txn_commit", rc);
		goto out;
	}
	if (ret_deleted != NULL)
		*ret_deleted = deleted;
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

int
sl_store_info(struct sl_store *s, struct sl_store_info *ret_info)
{
	struct sl_store_info info = { 0 };
	char name[SL_STORE_META_KEY_LEN];
	MDB_envinfo ei;
	MDB_stat st;
	MDB_txn *txn = NULL;
	MDB_val k, v;
	int rc;

	assert(s != NULL && ret_info != NULL);
	rc = mdb_env_info(s->env, &ei);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_env_info", rc);
		goto out;
	}
	rc = mdb_env_stat(s->env, &st);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_env_stat", rc);
		goto out;
	}
	info.map_size = ei.me_mapsize;
	info.used_bytes = ((uint64_t)ei.me_last_pgno + 1) * st.ms_psize;

	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_txn_begin", rc);
		goto out;
	}
	rc = mdb_stat(txn, s->windows, &st);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_stat", rc);
		goto out;
	}
	info.records = st.ms_entries;
	k.mv_size = last_window_key(name, sizeof(name), 0);
	k.mv_data = name;
	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc == MDB_SUCCESS && v.mv_size == 8)
		info.last_window = get_le64(v.mv_data);
	else if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
		rc = store_fail(s, "mdb_get(last_window)", rc);
		goto out;
	}
	*ret_info = info;
	rc = 0;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

int
sl_store_last_window(struct sl_store *s, uint32_t view, uint64_t *ret_start_ns)
{
	char name[SL_STORE_META_KEY_LEN];
	MDB_txn *txn = NULL;
	MDB_val k, v;
	int rc;

	assert(s != NULL && ret_start_ns != NULL);
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_txn_begin", rc);
		goto out;
	}
	k.mv_size = last_window_key(name, sizeof(name), view);
	k.mv_data = name;
	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc != MDB_SUCCESS) {
		rc = store_fail(s, "mdb_get(last_window)", rc);
		goto out;
	}
	if (v.mv_size != 8) {
		store_seterr(s->err, "last_window/%u: %zu bytes, expected 8", view, v.mv_size);
		rc = -EIO;
		goto out;
	}
	*ret_start_ns = get_le64(v.mv_data);
	rc = 0;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}
