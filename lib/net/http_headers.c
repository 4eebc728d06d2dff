/* SPDX-License-Identifier: Apache-2.0 */
/* What a response's header lines say, parsed one line at a time as libcurl hands them over. */
#include "net/http_headers.h"

#include "base/util.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *dup_range(const char *p, size_t n) {
  return strndup(p, n);
}

/* Content-Disposition: the filename*= (RFC 6266/5987) value, else filename=. */
static char *disposition_filename(const char *v, size_t n) {
  _cleanup_free_ char *plain = NULL, *extended = NULL;
  const char *end = v + n;
  const char *p = v;
  while (p < end) {
    while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
      p++;
    const char *name = p;
    while (p < end && *p != '=' && *p != ';')
      p++;
    size_t name_len = (size_t)(p - name);
    while (name_len && (name[name_len - 1] == ' ' || name[name_len - 1] == '\t'))
      name_len--;
    if (p >= end || *p != '=')
      continue;
    p++;
    while (p < end && (*p == ' ' || *p == '\t'))
      p++;
    char value[1024];
    size_t vlen = 0;
    if (p < end && *p == '"') {
      for (p++; p < end && *p != '"'; p++) {
        if (*p == '\\' && p + 1 < end)
          p++;
        if (vlen < sizeof(value) - 1)
          value[vlen++] = *p;
      }
      if (p < end)
        p++;
    } else {
      for (; p < end && *p != ';'; p++)
        if (vlen < sizeof(value) - 1)
          value[vlen++] = *p;
      while (vlen && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
        vlen--;
    }
    value[vlen] = '\0';
    if (name_len == 8 && strncasecmp(name, "filename", 8) == 0 && !plain) {
      plain = strdup(value);
    } else if (name_len == 9 && strncasecmp(name, "filename*", 9) == 0 && !extended) {
      /* charset'language'percent-encoded */
      const char *q1 = strchr(value, '\'');
      const char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
      if (q2) {
        int out_len = 0;
        char *decoded = curl_easy_unescape(NULL, q2 + 1, 0, &out_len);
        if (decoded && strlen(decoded) == (size_t)out_len)
          extended = strdup(decoded);
        curl_free(decoded);
      }
    }
  }
  if (extended && *extended)
    return TAKE_PTR(extended);
  if (plain && *plain)
    return TAKE_PTR(plain);
  return NULL;
}

void http_parse_status_line(struct http_response *resp, const char *line, size_t len) {
  const char *p = memchr(line, ' ', len);
  const char *end = line + len;
  if (!p)
    return;
  while (p < end && *p == ' ')
    p++;
  long status = 0;
  int digits = 0;
  while (p < end && isdigit((unsigned char)*p) && digits < 3) {
    status = status * 10 + (*p++ - '0');
    digits++;
  }
  resp->status = digits == 3 ? status : 0;
  while (p < end && *p == ' ')
    p++;
  resp->reason = dup_range(p, (size_t)(end - p));
}

static uint64_t parse_u64(const char *p, const char *end, const char **stop) {
  uint64_t v = 0;
  const char *start = p;
  while (p < end && isdigit((unsigned char)*p) && v <= (UINT64_MAX - 9) / 10)
    v = v * 10 + (uint64_t)(*p++ - '0');
  if (stop)
    *stop = p;
  return p == start ? UINT64_MAX : v;
}

static void set_header(char **slot, const char *v, size_t n) {
  if (!*slot)
    *slot = dup_range(v, n);
}

void http_parse_header_line(struct http_response *resp, char **location, int *chunked, const char *line, size_t len) {
  const char *colon = memchr(line, ':', len);
  if (!colon)
    return;
  size_t name_len = (size_t)(colon - line);
  const char *v = colon + 1, *end = line + len;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  size_t n = (size_t)(end - v);
#define IS(h) (name_len == sizeof(h) - 1 && strncasecmp(line, h, name_len) == 0)
  if (IS("Content-Length")) {
    const char *stop;
    uint64_t cl = parse_u64(v, end, &stop);
    if (stop == end)
      resp->content_length = cl;
  } else if (IS("Transfer-Encoding")) {
    *chunked = memmem(v, n, "chunked", 7) != NULL;
  } else if (IS("Content-Range")) {
    /* bytes START-END/TOTAL */
    if (n > 6 && strncasecmp(v, "bytes ", 6) == 0) {
      const char *p = v + 6, *stop;
      uint64_t start = parse_u64(p, end, &stop);
      if (stop < end && *stop == '-') {
        resp->content_range_start = start;
        const char *slash_end;
        uint64_t last = parse_u64(stop + 1, end, &slash_end);
        if (slash_end < end && *slash_end == '/')
          resp->content_range_end = last;
        const char *slash = memchr(stop, '/', (size_t)(end - stop));
        if (slash)
          resp->content_range_total = parse_u64(slash + 1, end, NULL);
      }
    }
  } else if (IS("Accept-Ranges")) {
    resp->accept_ranges = n == 5 && strncasecmp(v, "bytes", 5) == 0;
  } else if (IS("Location")) {
    free(*location);
    *location = dup_range(v, n);
  } else if (IS("Content-Type")) {
    set_header(&resp->content_type, v, n);
  } else if (IS("ETag")) {
    set_header(&resp->etag, v, n);
  } else if (IS("Last-Modified")) {
    set_header(&resp->last_modified, v, n);
  } else if (IS("WWW-Authenticate")) {
    set_header(&resp->www_authenticate, v, n);
  } else if (IS("Docker-Content-Digest")) {
    set_header(&resp->docker_content_digest, v, n);
  } else if (IS("Retry-After")) {
    set_header(&resp->retry_after, v, n);
  } else if (IS("Content-Disposition")) {
    if (!resp->content_disposition)
      resp->content_disposition = disposition_filename(v, n);
  }
#undef IS
}
