#include <curl/curl.h>
#include <lmdb.h>
#include <string.h>
#include <uv.h>

#include "frugal/err.h"

static const struct {
    int code;
    const char *name;
    const char *msg;
} own_errors[] = {
    {FR_EPARSE, "EPARSE", "malformed input"},
    {FR_EAWS, "EAWS", "AWS service error"},
    {FR_ETHROTTLED, "ETHROTTLED", "throttled, retries exhausted"},
    {FR_EHTTP, "EHTTP", "unexpected HTTP status"},
    {FR_ECONFLICT, "ECONFLICT", "changed by someone else"},
    {FR_ESCHEMA, "ESCHEMA", "store schema version mismatch"},
    {FR_ECONFIG, "ECONFIG", "invalid configuration"},
    {FR_ECRED, "ECRED", "no usable AWS credentials"},
    {FR_ESTATE, "ESTATE", "not allowed in the current state"},
    {FR_EDENIED, "EDENIED", "refused by a guardrail"},
    {FR_ENOTFOUND, "ENOTFOUND", "not found"},
    {FR_ELIMIT, "ELIMIT", "limit exceeded"},
    {FR_ERESOLVE, "ERESOLVE", "name resolution failed"},
    {FR_ETLS, "ETLS", "TLS failure"},
    {FR_EQUOTA, "EQUOTA", "retry quota exhausted"},
};

static const struct {
    int code;
    const char *name;
} errno_names[] = {
    {ENOMEM, "ENOMEM"},         {EINVAL, "EINVAL"},       {ETIMEDOUT, "ETIMEDOUT"},
    {ECONNRESET, "ECONNRESET"}, {ECONNREFUSED, "ECONNREFUSED"}, {ENOENT, "ENOENT"},
    {EEXIST, "EEXIST"},         {ENOSPC, "ENOSPC"},       {ECANCELED, "ECANCELED"},
    {EPROTO, "EPROTO"},         {E2BIG, "E2BIG"},         {EAGAIN, "EAGAIN"},
    {EACCES, "EACCES"},         {EIO, "EIO"},             {EBUSY, "EBUSY"},
    {ENOTSUP, "ENOTSUP"},       {EPERM, "EPERM"},         {EHOSTUNREACH, "EHOSTUNREACH"},
    {EADDRINUSE, "EADDRINUSE"}, {EPIPE, "EPIPE"},         {ERANGE, "ERANGE"},
};

const char *fr_strerror(int err)
{
    if (err == 0)
        return "success";
    for (size_t i = 0; i < sizeof(own_errors) / sizeof(own_errors[0]); i++)
        if (own_errors[i].code == err)
            return own_errors[i].msg;
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown error";
}

const char *fr_errname(int err)
{
    if (err == 0)
        return "OK";
    for (size_t i = 0; i < sizeof(own_errors) / sizeof(own_errors[0]); i++)
        if (own_errors[i].code == err)
            return own_errors[i].name;
    for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
        if (-errno_names[i].code == err)
            return errno_names[i].name;
    return "EUNKNOWN";
}

int fr_err_from_uv(int uv_err)
{
    /* libuv's UV_E* are negated errno values on Unix. */
    if (uv_err >= 0)
        return 0;
    if (uv_err == UV_EOF)
        return -ECONNRESET;
    if (uv_err == UV_EAI_NONAME || uv_err == UV_EAI_AGAIN || uv_err == UV_EAI_FAIL)
        return FR_ERESOLVE;
    if (uv_err < -4095)
        return -EIO;
    return uv_err;
}

int fr_err_from_mdb(int mdb_err)
{
    switch (mdb_err) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return FR_ENOTFOUND;
    case MDB_KEYEXIST:
        return -EEXIST;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case MDB_DBS_FULL:
    case MDB_READERS_FULL:
        return -ENOSPC;
    case MDB_VERSION_MISMATCH:
    case MDB_INVALID:
    case MDB_INCOMPATIBLE:
        return FR_ESCHEMA;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
        return -EIO;
    case MDB_MAP_RESIZED:
        return -EAGAIN;
    case MDB_BAD_RSLOT:
    case MDB_BAD_TXN:
    case MDB_BAD_VALSIZE:
    case MDB_BAD_DBI:
        return -EINVAL;
    default:
        if (mdb_err > 0 && mdb_err < 4096)
            return -mdb_err; /* errno passthrough */
        return -EIO;
    }
}

int fr_err_from_curl(int code)
{
    switch ((CURLcode)code) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return FR_ERESOLVE;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return -ECONNRESET;
    case CURLE_WRITE_ERROR:
        return -E2BIG;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
        return FR_ETLS;
    case CURLE_ABORTED_BY_CALLBACK:
        return -ECANCELED;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return -EINVAL;
    default:
        return -EIO;
    }
}
