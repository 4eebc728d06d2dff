/* SPDX-License-Identifier: Apache-2.0 */
/* Credentials never reach a message: every URL shown goes through here. */
#ifndef VMPULL_REDACT_H
#define VMPULL_REDACT_H

/* A copy of source with the password of a "scheme://user:pass@host" replaced by "***". NULL on OOM. */
char *redact_url(const char *source);

#endif
