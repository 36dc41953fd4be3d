/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_DP_CONFIG_H
#define SL_DP_CONFIG_H

/**
 * @file
 * The YAML configuration file (schema version 1): UDP inputs and their
 * formats, limits, retention, rules (docs/rules.md) and views. docs/configuration.md is the user's
 * reference; this header is the compiled form.
 *
 * Loading parses the YAML with libyaml, validates every field and compiles the
 * result into plain structs: no YAML survives the load. Every string of a
 * loaded config lives in memory that the config owns; sl_config_free()
 * releases all of it at once. A loaded config is never modified, so any number
 * of threads may read it.
 *
 * Errors carry the file name, the 1-based line and column of the offending
 * YAML node, and one specific message (the first error found).
 *
 * Threading: no global state; every function is reentrant. Control path only
 * (allocates), never called by a worker.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** The only schema version this code reads. */
#define SL_CONFIG_VERSION 1

/* Limits of the schema (each has an error message naming it). */
#define SL_CONFIG_INPUTS_MAX 16       /**< Entries in inputs. */
#define SL_CONFIG_VIEWS_MAX 256       /**< Upper bound of limits.max_views. */
#define SL_CONFIG_WHERE_MAX 16        /**< Conditions in one view's where. */
#define SL_CONFIG_IN_MAX 256          /**< Values in one in-set condition. */
#define SL_CONFIG_GROUP_BY_MAX 4      /**< Dimensions in group_by. */
#define SL_CONFIG_AGGS_MAX 16         /**< Aggregates in one view. */
#define SL_CONFIG_QUANTILES_MAX 8     /**< Quantiles in one quantiles(). */
#define SL_CONFIG_TOPK_MAX 1000       /**< Largest k of topk(). */
#define SL_CONFIG_SLICES_MAX 1000     /**< Largest window size / slide. */
#define SL_CONFIG_VIEW_NAME_MAX 32    /**< View names: [a-z0-9_]{1,32}. */
#define SL_CONFIG_DIM_NAME_MAX 64     /**< Dimension and field names, in bytes. */
#define SL_CONFIG_VALUE_MAX 256       /**< A where value, in bytes. */
#define SL_CONFIG_FILE_MAX (16u << 20) /**< Largest configuration file. */
#define SL_CONFIG_RULE_ID_MAX 64      /**< Rule ids and tags: [a-z0-9_]{1,64}. */
#define SL_CONFIG_PATTERN_MAX 4096    /**< A rule's pattern, in bytes. */
#define SL_CONFIG_TAGS_MAX 64         /**< Distinct tags: the bits of sl_event.tags. */
/** `on: raw`: a rule scans the whole line as received (sl_event.raw). */
#define SL_CONFIG_RULE_RAW "raw"
/** The reserved where-dimension of rule tags: `where: {tags: abuse}`. */
#define SL_CONFIG_TAGS_DIM "tags"

#define SL_CONFIG_MAX_GROUPS_MAX 16777216u      /**< limits.max_groups: 1..this. */
#define SL_CONFIG_MAX_SET_MEMBERS_MAX 67108864u /**< limits.max_set_members: 1..this. */
#define SL_CONFIG_MAX_RULES_MAX 100000u         /**< limits.max_rules: 1..this. */
#define SL_CONFIG_MAX_MATCHES_MAX 1024u         /**< limits.max_matches_per_event: 1..this. */

/* Defaults of the optional fields. */
#define SL_CONFIG_DEFAULT_MAX_GROUPS 100000u
#define SL_CONFIG_DEFAULT_MAX_SET_MEMBERS 65536u
#define SL_CONFIG_DEFAULT_MAX_VIEWS 64u
#define SL_CONFIG_DEFAULT_MAX_RULES 10000u
#define SL_CONFIG_DEFAULT_MAX_MATCHES 16u

/** Input formats: X(enum suffix, name in the file). */
#define SL_CONFIG_FORMATS(_) \
	_(STATSD, "statsd")  \
	_(JSON, "json")      \
	_(BINARY, "binary")

enum sl_config_format {
#define _(e, s) SL_CONFIG_FORMAT_##e,
	SL_CONFIG_FORMATS(_)
#undef _
	SL_CONFIG_FORMAT__MAX,
};

/** Kinds of where-conditions: X(enum suffix, description). */
#define SL_CONFIG_CONDS(_)                \
	_(EQ, "equals")                   \
	_(IN, "is in a set")              \
	_(EXISTS, "exists")               \
	_(NOT_EXISTS, "does not exist")

enum sl_config_cond_kind {
#define _(e, s) SL_CONFIG_COND_##e,
	SL_CONFIG_CONDS(_)
#undef _
	SL_CONFIG_COND__MAX,
};

/** How a view assigns events to windows: X(enum suffix, name in the file). */
#define SL_CONFIG_TIMES(_) \
	_(EVENT, "event")  \
	_(ARRIVAL, "arrival")

enum sl_config_time {
#define _(e, s) SL_CONFIG_TIME_##e,
	SL_CONFIG_TIMES(_)
#undef _
	SL_CONFIG_TIME__MAX,
};

/**
 * Aggregates: X(enum suffix, name, arguments) where arguments is 0 (none:
 * `count`), 1 (a field: `sum(f)`), 'q' (a field and a list of quantiles) or
 * 'k' (a field and k).
 */
#define SL_CONFIG_AGGS(_)             \
	_(COUNT, "count", 0)          \
	_(SUM, "sum", 1)              \
	_(MIN, "min", 1)              \
	_(MAX, "max", 1)              \
	_(AVG, "avg", 1)              \
	_(LAST, "last", 1)            \
	_(DISTINCT, "distinct", 1)    \
	_(QUANTILES, "quantiles", 'q') \
	_(TOPK, "topk", 'k')

enum sl_config_agg_kind {
#define _(e, s, a) SL_CONFIG_AGG_##e,
	SL_CONFIG_AGGS(_)
#undef _
	SL_CONFIG_AGG__MAX,
};

/** What a rule does to an event it matches: X(enum suffix, name in the file). */
#define SL_CONFIG_RULE_ACTIONS(_) \
	_(TAG, "tag")             \
	_(DROP, "drop")           \
	_(COUNT, "count")

enum sl_config_rule_action {
#define _(e, s) SL_CONFIG_RULE_##e,
	SL_CONFIG_RULE_ACTIONS(_)
#undef _
	SL_CONFIG_RULE__MAX,
};

/**
 * Pattern flags: X(enum suffix, name in the file). A rule's flags are a bit
 * mask: bit (1u << SL_CONFIG_RULE_FLAG_x) per flag given.
 */
#define SL_CONFIG_RULE_FLAGS(_)      \
	_(CASELESS, "caseless")      \
	_(DOTALL, "dotall")          \
	_(MULTILINE, "multiline")    \
	_(SINGLEMATCH, "singlematch") \
	_(UTF8, "utf8")              \
	_(UCP, "ucp")

enum sl_config_rule_flag {
#define _(e, s) SL_CONFIG_RULE_FLAG_##e,
	SL_CONFIG_RULE_FLAGS(_)
#undef _
	SL_CONFIG_RULE_FLAG__MAX,
};

/** One UDP input: datagrams to @c port are parsed as @c format. */
struct sl_config_input {
	enum sl_config_format format;
	uint16_t port; /**< 1..65535, unique among inputs. */
};

/** Per-core memory limits (the dataplane sizes its tables from these). */
struct sl_config_limits {
	uint32_t max_groups;      /**< Groups per view, per core, per window. */
	uint32_t max_set_members; /**< Set members per core per window. */
	uint32_t max_views;       /**< Views in the file: 1..SL_CONFIG_VIEWS_MAX. */
	uint32_t max_rules;       /**< Rules in the file: 1..SL_CONFIG_MAX_RULES_MAX. */
	/** Rules applied to one event: 1..SL_CONFIG_MAX_MATCHES_MAX. */
	uint32_t max_matches_per_event;
};

/**
 * One rule: a Hyperscan pattern (docs/rules.md) scanned over the raw line or
 * one field of every event, and what to do with a match.
 */
struct sl_config_rule {
	const char *id;      /**< [a-z0-9_]{1,64}, unique. */
	const char *pattern; /**< 1..SL_CONFIG_PATTERN_MAX bytes, no control bytes. */
	const char *on;      /**< "raw" or a field name ("event": the event name). */
	bool on_raw;         /**< on is "raw". */
	uint32_t flags;      /**< Bits (1u << enum sl_config_rule_flag). */
	enum sl_config_rule_action action;
	const char *tag;     /**< Action tag: the tag (default: the id); else NULL. */
	uint32_t tag_index;  /**< Action tag: index in cfg->tags; else UINT32_MAX. */
	unsigned int line;   /**< Where the rule starts in the file (1-based). */
};

/**
 * One where-condition; a view's conditions must all hold. On the dimension
 * "tags" (SL_CONFIG_TAGS_DIM) the values are tag names that rules define (EQ,
 * IN: the event has one of them; EXISTS: any tag; NOT_EXISTS: none).
 */
struct sl_config_cond {
	enum sl_config_cond_kind kind;
	const char *dim;           /**< Dimension ("event" is the event name). */
	const char *const *values; /**< EQ: 1 value; IN: 1..SL_CONFIG_IN_MAX; else none. */
	uint32_t n_values;
};

/** One aggregate of a view. */
struct sl_config_agg {
	enum sl_config_agg_kind kind;
	const char *field;    /**< The field aggregated; NULL for count. */
	uint32_t k;           /**< topk only: 1..SL_CONFIG_TOPK_MAX; else 0. */
	uint32_t n_quantiles; /**< quantiles only: 1..SL_CONFIG_QUANTILES_MAX; else 0. */
	double quantiles[SL_CONFIG_QUANTILES_MAX]; /**< Ascending, each in (0, 1). */
	/**
	 * The name results are keyed by: "count", "sum(amount)",
	 * "quantiles(amount)", "topk(sku,10)". Unique within a view.
	 */
	const char *key;
};

/** One view, with every default resolved. */
struct sl_config_view {
	const char *name; /**< [a-z0-9_]{1,32}, unique. */
	struct sl_config_cond *where;
	uint32_t n_where; /**< 0 = every event. */
	const char *group_by[SL_CONFIG_GROUP_BY_MAX];
	uint32_t n_group_by;
	uint64_t window_size_ns;      /**< 1 ms .. 24 h. */
	uint64_t window_slide_ns;     /**< == size for tumbling windows; divides size. */
	enum sl_config_time time;
	uint64_t allowed_lateness_ns; /**< Event time only; 0..24 h. */
	bool keep_late;               /**< Event time only: count late events per window. */
	struct sl_config_agg *aggs;
	uint32_t n_aggs;              /**< 1..SL_CONFIG_AGGS_MAX. */
	uint64_t retention_ns;        /**< 0 = forever (the file's retention by default). */
	uint32_t max_groups;          /**< <= limits.max_groups (its default). */
	unsigned int line;            /**< Where the view starts in the file (1-based). */
};

/** A loaded configuration. Read-only once loaded; free with sl_config_free(). */
struct sl_config {
	uint32_t version; /**< SL_CONFIG_VERSION. */
	struct sl_config_input *inputs;
	uint32_t n_inputs; /**< 1..SL_CONFIG_INPUTS_MAX. */
	struct sl_config_limits limits;
	uint64_t retention_ns; /**< Default retention of views; 0 = forever. */
	struct sl_config_view *views;
	uint32_t n_views; /**< 0..limits.max_views. */
	struct sl_config_rule *rules;
	uint32_t n_rules; /**< 0..limits.max_rules. */
	/**
	 * The tag table: tag i is the i-th distinct tag of the action-tag rules,
	 * in rule order, and bit i of sl_event.tags.
	 */
	const char *const *tags;
	uint32_t n_tags;  /**< 0..SL_CONFIG_TAGS_MAX. */
	void *arena;      /**< Private: the memory behind every pointer above. */
};

/** Where and why a load failed. */
struct sl_config_error {
	char file[256];      /**< The file name, or the name given to load_string. */
	unsigned int line;   /**< 1-based; 0 when the error has no position. */
	unsigned int column; /**< 1-based; 0 when the error has no position. */
	char msg[256];       /**< "unknown field 'agregates' in view 'sales' (did you ...)" */
};

/**
 * Load and validate a configuration file.
 *
 * @param path  The file; "-" reads standard input (named "<stdin>" in errors).
 * @param[out] ret  Set on success only; free with sl_config_free().
 * @param[out] err  Filled on failure when not NULL.
 * @return 0; -EINVAL for an invalid configuration; -errno when the file cannot
 *         be read (-ENOENT, -EACCES, -EFBIG over SL_CONFIG_FILE_MAX, ...); -ENOMEM.
 */
int sl_config_load_file(const char *path, struct sl_config **ret, struct sl_config_error *err);

/**
 * Load and validate a configuration from memory.
 *
 * @param yaml  The text (need not be NUL-terminated); borrowed for the call.
 * @param len   Its length in bytes.
 * @param name  Used as the file name in errors (NULL: "<string>").
 * @param[out] ret  Set on success only; free with sl_config_free().
 * @param[out] err  Filled on failure when not NULL.
 * @return 0, -EINVAL (invalid configuration) or -ENOMEM.
 */
int sl_config_load_string(const char *yaml, size_t len, const char *name,
			  struct sl_config **ret, struct sl_config_error *err);

/** The built-in default configuration (the retail views), as YAML text. */
const char *sl_config_default_yaml(void);

/** Release a configuration and everything it points to. NULL is a no-op. */
void sl_config_free(struct sl_config *cfg);

/**
 * Write @p cfg as canonical YAML: every field explicit, defaults resolved,
 * durations in their largest exact unit. Loading the output gives an equal
 * configuration (sl_config_equal()).
 *
 * @return 0, or -EIO when writing failed.
 */
int sl_config_dump(const struct sl_config *cfg, FILE *f);

/** True when @p a and @p b configure the same thing (line numbers aside). */
bool sl_config_equal(const struct sl_config *a, const struct sl_config *b);

/**
 * Write a configuration that holds only view @p i of @p cfg and the rules
 * that define the tags its where uses (none when it uses no tag), in the
 * canonical form: a view's stand-alone definition, which loads on its own.
 *
 * @return 0, -EINVAL (@p i out of range), -ENOMEM or -EIO.
 */
int sl_config_dump_view(const struct sl_config *cfg, uint32_t i, FILE *f);

/**
 * Index of tag @p tag in cfg->tags (its bit in sl_event.tags).
 *
 * @return 0..cfg->n_tags - 1, or -ENOENT (no rule defines it; @p cfg NULL).
 */
int sl_config_tag_index(const struct sl_config *cfg, const char *tag);

/**
 * Print @p err as "FILE:LINE:COL: message\n" ("FILE: message\n" without a
 * position).
 */
void sl_config_error_print(const struct sl_config_error *err, FILE *f);

/**
 * Parse a duration: a decimal number with an optional fraction and one of the
 * suffixes ns, us, ms, s, m, h, d; a bare number is seconds ("10s", "1.5m",
 * "500ms", "7d", "30"). The value must be a whole number of nanoseconds.
 *
 * @param[out] ret_ns  Set on success only.
 * @return 0, -EINVAL (not a duration) or -ERANGE (over UINT64_MAX ns).
 */
int sl_config_duration_parse(const char *s, uint64_t *ret_ns);

/**
 * Parse a command-line size or count: decimal digits with an optional K, M or
 * G suffix (powers of 1024), within [min, max].
 *
 * @param[out] ret  Set on success only.
 * @return 0, -EINVAL (not a number) or -ERANGE (out of [min, max]).
 */
int sl_config_size_parse(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/**
 * Format a duration the way sl_config_duration_parse() reads it, in the
 * largest unit that is exact ("7d", "90s", "1500ms", "0").
 */
void sl_config_duration_fmt(uint64_t ns, char *buf, size_t cap);

/** Name of an input format ("statsd"), or "?" when out of range. */
const char *sl_config_format_name(unsigned int format);

/** Name of an aggregate kind ("quantiles"), or "?" when out of range. */
const char *sl_config_agg_name(unsigned int kind);

/** Name of a rule action ("drop"), or "?" when out of range. */
const char *sl_config_rule_action_name(unsigned int action);

/** Name of a rule flag ("caseless"), or "?" when out of range. */
const char *sl_config_rule_flag_name(unsigned int flag);

/** Name of a time mode ("event"), or "?" when out of range. */
const char *sl_config_time_name(unsigned int time);

#endif /* SL_DP_CONFIG_H */
