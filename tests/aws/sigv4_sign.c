/* sigv4-sign: reads one request spec per line (JSON) and prints frugal's
 * signature for it, for the property test against botocore's signer.
 *   {"method","host","path","query","headers":[[name,value],...],"body",
 *    "region","service","akid","secret","token","time_ms"}
 * -> {"authorization": "...", "amz_date": "..."} */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/aws_proto.h"
#include "frugal/err.h"

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int status = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        json_error_t je;
        json_t *spec = json_loadb(line, (size_t)n, 0, &je);
        if (!spec) {
            printf("{\"error\":\"bad json\"}\n");
            status = 1;
            continue;
        }
        json_t *hs = json_object_get(spec, "headers");
        size_t nh = json_array_size(hs);
        fr_sigv4_header *h = calloc(nh ? nh : 1, sizeof(*h));
        for (size_t i = 0; i < nh; i++) {
            json_t *pair = json_array_get(hs, i);
            h[i].name = json_string_value(json_array_get(pair, 0));
            h[i].value = json_string_value(json_array_get(pair, 1));
        }
        json_t *body = json_object_get(spec, "body");
        const char *token = json_string_value(json_object_get(spec, "token"));
        fr_aws_sign_in in = {
            .method = json_string_value(json_object_get(spec, "method")),
            .host = json_string_value(json_object_get(spec, "host")),
            .path = json_string_value(json_object_get(spec, "path")),
            .query = json_string_value(json_object_get(spec, "query")),
            .headers = h,
            .nheaders = nh,
            .body = json_string_value(body),
            .body_len = json_string_length(body),
            .region = json_string_value(json_object_get(spec, "region")),
            .service = json_string_value(json_object_get(spec, "service")),
            .access_key = json_string_value(json_object_get(spec, "akid")),
            .secret_key = json_string_value(json_object_get(spec, "secret")),
            .session_token = token,
            .time_ms = json_integer_value(json_object_get(spec, "time_ms")),
        };
        char date[20];
        fr_buf authz = FR_BUF_INIT;
        int rc = fr_aws_sign(&in, date, &authz);
        json_t *out = rc ? json_pack("{s:s}", "error", fr_errname(rc))
                         : json_pack("{s:s, s:s}", "authorization", fr_buf_cstr(&authz), "amz_date", date);
        char *s = json_dumps(out, JSON_COMPACT);
        printf("%s\n", s);
        fflush(stdout);
        free(s);
        json_decref(out);
        fr_buf_free(&authz);
        free(h);
        json_decref(spec);
    }
    free(line);
    return status;
}
