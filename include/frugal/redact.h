/* Keeps secrets out of every log and audit line.
 * Three rules: values under secret-looking keys are replaced; known secret
 * shapes inside strings (SigV4 signatures, Bearer tokens, presigned URL
 * signatures) are masked; and any string registered as a secret at run time
 * (API token, AWS secret key, session token, LLM key) is masked wherever it
 * appears. Pure functions; the registry is process-wide. */
#ifndef FRUGAL_REDACT_H
#define FRUGAL_REDACT_H

#include <stdbool.h>
#include <jansson.h>

#define FR_REDACTED "[REDACTED]"

void fr_redact_register(const char *secret);
void fr_redact_clear(void);
bool fr_redact_key_is_secret(const char *key);
/* Returns a newly allocated redacted copy, or NULL when nothing changed. */
char *fr_redact_string(const char *s);
/* Redacts in place (object values and strings, recursively). */
void fr_redact_json(json_t *j);

#endif
