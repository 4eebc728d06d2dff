/* SPDX-License-Identifier: Apache-2.0 */
/* The one C++ file: toml++ turns the buffer into its tree, which is copied into plain C values
 * (toml_read.h). Nothing may leave here as an exception: each entry point is noexcept and
 * catches everything. */
extern "C" {
#include "base/error.h"
}
#include "base/toml_read.h"

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 1
#define TOML_ENABLE_FORMATTERS 1
#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>
#include <string>
#include <toml++/toml.h>

namespace {

struct conversion_failed {};

char *copy_text(const char *s, size_t n) {
  char *c = static_cast<char *>(malloc(n + 1));
  if (!c)
    throw std::bad_alloc();
  memcpy(c, s, n);
  c[n] = '\0';
  return c;
}

void fill(struct toml_value *out, const toml::node &node);

void fill_items(struct toml_value *out, size_t n) {
  if (n == 0)
    return;
  out->items = static_cast<struct toml_value *>(calloc(n, sizeof(*out->items)));
  if (!out->items)
    throw std::bad_alloc();
  out->n_items = n;
}

void fill(struct toml_value *out, const toml::node &node) {
  out->line = static_cast<unsigned>(node.source().begin.line);
  out->column = static_cast<unsigned>(node.source().begin.column);
  switch (node.type()) {
  case toml::node_type::table: {
    const toml::table &t = *node.as_table();
    out->kind = TOML_TABLE;
    fill_items(out, t.size());
    size_t i = 0;
    for (auto &&[k, v] : t) {
      out->items[i].key = copy_text(k.str().data(), k.str().size());
      fill(&out->items[i], v);
      i++;
    }
    break;
  }
  case toml::node_type::array: {
    const toml::array &a = *node.as_array();
    out->kind = TOML_ARRAY;
    fill_items(out, a.size());
    for (size_t i = 0; i < a.size(); i++)
      fill(&out->items[i], a[i]);
    break;
  }
  case toml::node_type::string: {
    const std::string &s = node.as_string()->get();
    out->kind = TOML_STRING;
    out->text = copy_text(s.data(), s.size());
    out->text_len = s.size();
    break;
  }
  case toml::node_type::integer:
    out->kind = TOML_INTEGER;
    out->integer = node.as_integer()->get();
    break;
  case toml::node_type::floating_point:
    out->kind = TOML_FLOAT;
    out->number = node.as_floating_point()->get();
    break;
  case toml::node_type::boolean:
    out->kind = TOML_BOOLEAN;
    out->boolean = node.as_boolean()->get() ? 1 : 0;
    break;
  case toml::node_type::date:
  case toml::node_type::time:
  case toml::node_type::date_time: {
    std::ostringstream s;
    if (node.is_date())
      s << node.as_date()->get();
    else if (node.is_time())
      s << node.as_time()->get();
    else
      s << node.as_date_time()->get();
    std::string text = s.str();
    out->kind = TOML_DATETIME;
    out->text = copy_text(text.data(), text.size());
    out->text_len = text.size();
    break;
  }
  default: throw conversion_failed();
  }
}

/* The line (1-based) that has more than TOML_READ_DOTS_MAX dots, or 0. A comment line is left
 * alone: it nests nothing. */
size_t line_too_dotted(const char *buf, size_t len) {
  size_t line = 1, dots = 0;
  int comment = 0, blank = 1;
  for (size_t i = 0; i < len; i++) {
    char c = buf[i];
    if (c == '\n') {
      line++;
      dots = 0;
      comment = 0;
      blank = 1;
      continue;
    }
    if (blank && c == '#')
      comment = 1;
    if (c != ' ' && c != '\t')
      blank = 0;
    if (c == '.' && !comment && ++dots > TOML_READ_DOTS_MAX)
      return line;
  }
  return 0;
}

} // namespace

extern "C" int toml_read(const char *buf, size_t len, const char *name, struct toml_value *root,
                         lib_error *err) noexcept {
  *root = (struct toml_value){};
  if (len > TOML_READ_MAX)
    return error_set(err, VMPULL_E_LIMIT, "%s: larger than the %u KiB limit", name, TOML_READ_MAX >> 10);
  size_t dotted = line_too_dotted(buf, len);
  if (dotted)
    return error_set(err, VMPULL_E_CONFIG, "%s:%zu: more than %d dots on one line (keys nest no deeper)", name, dotted,
                     TOML_READ_DOTS_MAX);
  try {
    toml::table t = toml::parse(std::string_view(buf, len), std::string_view(name));
    fill(root, t);
    root->kind = TOML_TABLE;
    return 0;
  } catch (const toml::parse_error &e) {
    toml_value_clear(root);
    std::string what(e.description());
    return error_set(err, VMPULL_E_CONFIG, "%s:%u:%u: %s", name, static_cast<unsigned>(e.source().begin.line),
                     static_cast<unsigned>(e.source().begin.column), what.c_str());
  } catch (const std::bad_alloc &) {
    toml_value_clear(root);
    return error_oom(err);
  } catch (...) {
    toml_value_clear(root);
    return error_set(err, VMPULL_E_CONFIG, "%s: not read (an unexpected TOML value)", name);
  }
}

extern "C" void toml_value_clear(struct toml_value *v) noexcept {
  if (!v)
    return;
  for (size_t i = 0; i < v->n_items; i++)
    toml_value_clear(&v->items[i]);
  free(v->items);
  free(v->key);
  free(v->text);
  *v = (struct toml_value){};
}

extern "C" const struct toml_value *toml_table_get(const struct toml_value *t, const char *key) noexcept {
  if (!t || t->kind != TOML_TABLE)
    return nullptr;
  for (size_t i = 0; i < t->n_items; i++)
    if (t->items[i].key && strcmp(t->items[i].key, key) == 0)
      return &t->items[i];
  return nullptr;
}

extern "C" const char *toml_kind_name(enum toml_kind kind) noexcept {
  switch (kind) {
  case TOML_TABLE: return "a table";
  case TOML_ARRAY: return "an array";
  case TOML_STRING: return "a string";
  case TOML_INTEGER: return "an integer";
  case TOML_FLOAT: return "a float";
  case TOML_BOOLEAN: return "a boolean";
  case TOML_DATETIME: return "a date-time";
  }
  return "a value";
}
