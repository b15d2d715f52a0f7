/* One error convention for all of frugal: 0 on success, a negative code on
 * failure. System conditions use negative errno values; conditions of our own
 * sit below -4096 so they never collide with errno. Foreign codes (uv, curl,
 * LMDB) are converted once, at the boundary, by the fr_err_from_* helpers. */
#ifndef FRUGAL_ERR_H
#define FRUGAL_ERR_H

#include <errno.h>

enum {
    FR_OK = 0,
    FR_EPARSE = -4097,     /* malformed input: body, file, response */
    FR_EAWS = -4098,       /* an AWS service returned an error (see fr_aws_error) */
    FR_ETHROTTLED = -4099, /* throttled and out of retries */
    FR_EHTTP = -4100,      /* unexpected HTTP status */
    FR_ECONFLICT = -4101,  /* someone else changed what we own */
    FR_ESCHEMA = -4102,    /* store schema version mismatch */
    FR_ECONFIG = -4103,    /* bad configuration */
    FR_ECRED = -4104,      /* no usable credentials */
    FR_ESTATE = -4105,     /* operation not allowed in this state */
    FR_EDENIED = -4106,    /* refused by a guardrail (approval gate, limits) */
    FR_ENOTFOUND = -4107,  /* named thing does not exist */
    FR_ELIMIT = -4108,     /* a configured limit was exceeded */
    FR_ERESOLVE = -4109,   /* DNS resolution failed */
    FR_ETLS = -4110,       /* TLS failure */
    FR_EQUOTA = -4111,     /* retry quota exhausted */
};

const char *fr_strerror(int err);
/* Short stable identifier ("ETIMEDOUT", "EPARSE") for logs and JSON. */
const char *fr_errname(int err);

int fr_err_from_uv(int uv_err);
int fr_err_from_mdb(int mdb_err);
int fr_err_from_curl(int curl_code);

#endif
