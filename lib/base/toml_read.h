/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TOML, read by toml++ (C++17, header-only here) behind a C interface: a size-limited buffer
 * becomes a plain C tree of values, each with the line and column it was written at. Every
 * exception stays inside toml_read.cpp; a document that does not parse is VMPULL_E_CONFIG with
 * "NAME:LINE:COLUMN: what is wrong". toml++ nests only TOML_MAX_NESTED_VALUES values but follows
 * dotted keys and table headers as deep as they go, recursing: a line with more than
 * TOML_READ_DOTS_MAX dots (outside a comment line) is refused before toml++ sees it, which keeps
 * every tree shallow enough for the stack.
 */
#ifndef VMPULL_TOML_READ_H
#define VMPULL_TOML_READ_H

#include "base/error.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define TOML_READ_NOEXCEPT noexcept
extern "C" {
#else
#define TOML_READ_NOEXCEPT
#endif

#define TOML_READ_MAX (1u << 20) /* bytes of one document */
#define TOML_READ_DOTS_MAX 64    /* dots on one line */

enum toml_kind {
  TOML_TABLE,
  TOML_ARRAY,
  TOML_STRING,
  TOML_INTEGER,
  TOML_FLOAT,
  TOML_BOOLEAN,
  TOML_DATETIME, /* a date, a time or both, kept as text */
};

struct toml_value {
  enum toml_kind kind;
  char *key;             /* its name in the table that holds it; NULL in an array and for the root */
  unsigned line, column; /* where it starts in the document (1-based; 0 when toml++ does not know) */
  char *text;            /* TOML_STRING (may hold NULs: text_len counts them), TOML_DATETIME */
  size_t text_len;
  int64_t integer;
  double number;
  int boolean;
  struct toml_value *items; /* TOML_TABLE (members, by key), TOML_ARRAY (elements, in order) */
  size_t n_items;
};

/* Parse len bytes of buf (at most TOML_READ_MAX) into *root, a TOML_TABLE; name says where the
 * bytes came from, in messages. Never throws. */
int toml_read(const char *buf, size_t len, const char *name, struct toml_value *root,
              lib_error *err) TOML_READ_NOEXCEPT;
void toml_value_clear(struct toml_value *v) TOML_READ_NOEXCEPT;
/* The member key of table t, or NULL. */
const struct toml_value *toml_table_get(const struct toml_value *t, const char *key) TOML_READ_NOEXCEPT;
/* "a table", "an array", "a string", ... */
const char *toml_kind_name(enum toml_kind kind) TOML_READ_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif
