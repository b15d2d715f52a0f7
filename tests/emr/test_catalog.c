/* Instance catalog: the shipped file, row validation, ladders, the closest
 * known type for unknown names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "frugal/emr_catalog.h"
#include "frugal/err.h"

#include "emr_test_util.h"

static const char *HDR = "instance_type,family,generation,size,size_rank,vcpu,memory_gib,arch,vendor,category,"
                         "emr_supported,ondemand_usd_per_hour,spot_savings_pct,interrupt_bucket\n";

static void test_shipped_catalog(void **state)
{
    fr_emr_catalog *cat = emr_test_catalog();
    assert_int_equal(fr_emr_catalog_count(cat), 920);
    size_t emr = 0;
    for (size_t i = 0; i < fr_emr_catalog_count(cat); i++)
        emr += fr_emr_catalog_at(cat, i)->emr_supported;
    assert_int_equal(emr, 644);

    const fr_emr_itype *t = fr_emr_catalog_find(cat, "r7g.4xlarge");
    assert_non_null(t);
    assert_string_equal(t->family, "r7g");
    assert_string_equal(t->size, "4xlarge");
    assert_int_equal(t->generation, 7);
    assert_int_equal(t->size_rank, 128);
    assert_int_equal(t->vcpu, 16);
    assert_true(t->memory_gib == 128.0);
    assert_int_equal(t->arch, FR_EMR_ARCH_ARM64);
    assert_string_equal(t->vendor, "aws");
    assert_int_equal(t->category, FR_EMR_CAT_MEMORY);
    assert_true(t->emr_supported);
    assert_true(t->ondemand == 0.8568);
    assert_true(t->spot_savings_pct == 67);
    assert_int_equal(t->interrupt_bucket, 4);
    /* spot estimate: 0.8568 x (1 - 0.67) */
    assert_true(fabs(fr_emr_itype_spot_estimate(t) - 0.282744) < 1e-9);

    t = fr_emr_catalog_find(cat, "m6a.2xlarge");
    assert_string_equal(t->vendor, "amd");
    assert_int_equal(t->category, FR_EMR_CAT_GENERAL);
    t = fr_emr_catalog_find(cat, "c7i.xlarge");
    assert_string_equal(t->vendor, "intel");
    assert_int_equal(t->category, FR_EMR_CAT_COMPUTE);
    t = fr_emr_catalog_find(cat, "g5.xlarge");
    assert_int_equal(t->category, FR_EMR_CAT_ACCELERATED);
    t = fr_emr_catalog_find(cat, "i4i.2xlarge");
    assert_int_equal(t->category, FR_EMR_CAT_STORAGE);
    /* unknown spot data stays unknown: spot estimate = on-demand */
    t = fr_emr_catalog_find(cat, "f2.6xlarge");
    assert_true(t->spot_savings_pct < 0);
    assert_int_equal(t->interrupt_bucket, -1);
    assert_true(fr_emr_itype_spot_estimate(t) == t->ondemand);
    assert_null(fr_emr_catalog_find(cat, "r7g.5xlarge"));
    assert_null(fr_emr_catalog_find(cat, "R7G.4XLARGE"));

    /* the seed's static table must be covered: m5 m6g m6i m7g m7i r5 r6g r6i
     * r7g r7i c5 c6g c6i c7g c7i in xlarge..16xlarge, EMR-supported */
    static const char *fams[] = {"m5", "m6g", "m6i", "m7g", "m7i", "r5", "r6g", "r6i",
                                 "r7g", "r7i", "c5",  "c6g", "c6i", "c7g", "c7i"};
    static const char *sizes[] = {"xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"};
    for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++)
        for (size_t s = 0; s < 6; s++) {
            char n[40];
            snprintf(n, sizeof(n), "%s.%s", fams[f], sizes[s]);
            if (strcmp(n, "c5.8xlarge") == 0 || strcmp(n, "c5.16xlarge") == 0)
                continue; /* c5 has 9xlarge and 18xlarge instead */
            const fr_emr_itype *x = fr_emr_catalog_find(cat, n);
            assert_non_null(x);
            assert_true(x->emr_supported);
            assert_true(x->ondemand > 0);
        }
    json_t *j = fr_emr_itype_to_json(fr_emr_catalog_find(cat, "r7g.4xlarge"));
    assert_string_equal(json_string_value(json_object_get(j, "arch")), "arm64");
    json_decref(j);
    fr_emr_catalog_free(cat);
}

static void test_ladder(void **state)
{
    fr_emr_catalog *cat = emr_test_catalog();
    const fr_emr_itype *r = fr_emr_catalog_find(cat, "r7g.4xlarge");
    const fr_emr_itype *lad[32];
    /* EMR ladder of r7g: xlarge < 2xlarge < 4xlarge < 8xlarge < 12xlarge < 16xlarge (no medium/large/metal) */
    size_t n = fr_emr_catalog_family(cat, "r7g", true, lad, 32);
    assert_int_equal(n, 6);
    static const char *want[] = {"r7g.xlarge", "r7g.2xlarge", "r7g.4xlarge", "r7g.8xlarge", "r7g.12xlarge", "r7g.16xlarge"};
    for (size_t i = 0; i < n; i++)
        assert_string_equal(lad[i]->name, want[i]);
    /* all sizes: medium, large too; metal never */
    n = fr_emr_catalog_family(cat, "r7g", false, lad, 32);
    assert_int_equal(n, 8);
    assert_string_equal(lad[0]->name, "r7g.medium");

    int taken;
    assert_string_equal(fr_emr_catalog_step(cat, r, -1, true, &taken)->name, "r7g.2xlarge");
    assert_int_equal(taken, -1);
    assert_string_equal(fr_emr_catalog_step(cat, r, -2, true, &taken)->name, "r7g.xlarge");
    assert_int_equal(taken, -2);
    /* clamped at the end of the EMR ladder */
    assert_string_equal(fr_emr_catalog_step(cat, r, -3, true, &taken)->name, "r7g.xlarge");
    assert_int_equal(taken, -2);
    assert_string_equal(fr_emr_catalog_step(cat, r, -3, false, &taken)->name, "r7g.large");
    assert_int_equal(taken, -3);
    assert_string_equal(fr_emr_catalog_step(cat, r, 2, true, &taken)->name, "r7g.12xlarge");
    assert_string_equal(fr_emr_catalog_step(cat, r, 9, true, &taken)->name, "r7g.16xlarge");
    assert_int_equal(taken, 3);
    assert_ptr_equal(fr_emr_catalog_step(cat, r, 0, true, &taken), r);
    assert_int_equal(taken, 0);
    int d;
    assert_int_equal(fr_emr_catalog_distance(cat, r, fr_emr_catalog_find(cat, "r7g.xlarge"), true, &d), 0);
    assert_int_equal(d, -2);
    assert_int_equal(fr_emr_catalog_distance(cat, r, fr_emr_catalog_find(cat, "r6g.xlarge"), true, &d), FR_ENOTFOUND);

    assert_int_equal(fr_emr_size_rank("xlarge"), 32);
    assert_int_equal(fr_emr_size_rank("16xlarge"), 512);
    assert_int_equal(fr_emr_size_rank("metal-24xl"), 0);
    assert_int_equal(fr_emr_size_rank("large"), 16);
    assert_int_equal(fr_emr_size_rank("huge"), -1);
    assert_int_equal(fr_emr_size_rank("0xlarge"), -1);
    assert_int_equal(fr_emr_size_rank("2xlargex"), -1);

    /* Pricing API refresh */
    assert_int_equal(fr_emr_catalog_set_price(cat, "r7g.4xlarge", 0.9), 0);
    assert_true(fr_emr_catalog_find(cat, "r7g.4xlarge")->ondemand == 0.9);
    assert_int_equal(fr_emr_catalog_set_price(cat, "zz.large", 0.9), FR_ENOTFOUND);
    assert_int_not_equal(fr_emr_catalog_set_price(cat, "r7g.4xlarge", -1), 0);
    fr_emr_catalog_free(cat);
}

static void test_resolve(void **state)
{
    fr_emr_catalog *cat = emr_test_catalog();
    fr_emr_match m;
    const fr_emr_itype *t = fr_emr_catalog_resolve(cat, "m5.2xlarge", &m);
    assert_int_equal(m, FR_EMR_MATCH_EXACT);
    assert_string_equal(t->name, "m5.2xlarge");
    /* unknown size of a known family: nearest size by ratio (160 is closer to 128 than 256) */
    t = fr_emr_catalog_resolve(cat, "r7g.5xlarge", &m);
    assert_int_equal(m, FR_EMR_MATCH_SAME_FAMILY);
    assert_string_equal(t->name, "r7g.4xlarge");
    /* 3xlarge (rank 96): |ln 128/96| = 0.288 < |ln 96/64| = 0.405 */
    t = fr_emr_catalog_resolve(cat, "r7g.3xlarge", &m);
    assert_string_equal(t->name, "r7g.4xlarge");
    /* unknown family, same class: same attributes first ("g" Graviton, "i"
     * Intel), then the nearest generation */
    t = fr_emr_catalog_resolve(cat, "r9g.4xlarge", &m);
    assert_int_equal(m, FR_EMR_MATCH_SIMILAR_FAMILY);
    assert_string_equal(t->name, "r8g.4xlarge");
    t = fr_emr_catalog_resolve(cat, "c9i.2xlarge", &m);
    assert_string_equal(t->name, "c7i.2xlarge");
    /* nothing of class "q" */
    assert_null(fr_emr_catalog_resolve(cat, "q1.large", &m));
    assert_int_equal(m, FR_EMR_MATCH_NONE);
    assert_null(fr_emr_catalog_resolve(cat, "nonsense", &m));
    assert_null(fr_emr_catalog_resolve(cat, "r7g.metal-99", &m));
    fr_emr_catalog_free(cat);
}

static int parse_err(const char *body, char *err, size_t n)
{
    char text[4096];
    snprintf(text, sizeof(text), "# comment\n%s%s", HDR, body);
    fr_emr_catalog *cat = NULL;
    int rc = fr_emr_catalog_parse(text, strlen(text), &cat, err, n);
    fr_emr_catalog_free(cat);
    return rc;
}

static void test_malformed(void **state)
{
    char err[256];
    const char *good = "r7g.xlarge,r7g,7,xlarge,32,4,32,arm64,aws,memory,true,0.214200,71,4\n";
    assert_int_equal(parse_err(good, err, sizeof(err)), 0);
    static const struct {
        const char *row;
        const char *msg;
    } bad[] = {
        {"r7g.xlarge,r7g,7,xlarge,32,4,32,arm64,aws,memory,true,0.214200,71\n", "line 3: 13 fields, the header has 14"},
        {"r7g.xlarge,r7g,7,xlarge,32,0,32,arm64,aws,memory,true,0.2142,71,4\n", "line 3: vcpu '0'"},
        {"r7g.xlarge,r7g,7,xlarge,32,4,-1,arm64,aws,memory,true,0.2142,71,4\n", "line 3: memory_gib '-1'"},
        {"r7g.xlarge,r7g,7,xlarge,32,4,32,arm,aws,memory,true,0.2142,71,4\n", "line 3: arch 'arm'"},
        {"r7g.xlarge,r7g,7,xlarge,32,4,32,x86_64,aws,memory,true,0.2142,71,4\n", "line 3: vendor 'aws' contradicts"},
        {"r7g.xlarge,r7g,7,xlarge,32,4,32,arm64,aws,fast,true,0.2142,71,4\n", "line 3: category 'fast'"},
        {"r7g.xlarge,r7g,7,xlarge,32,4,32,arm64,aws,memory,yes,0.2142,71,4\n", "line 3: emr_supported 'yes'"},
        {"r7g.xlarge,r7g,7,xlarge,32,4,32,arm64,aws,memory,true,abc,71,4\n", "line 3: ondemand_usd_per_hour 'abc'"},
        {"r7g.xlarge,r7g,7,xlarge,32,4,32,arm64,aws,memory,true,0,71,4\n", "line 3: ondemand_usd_per_hour '0'"},
        {"r7g.xlarge,r7g,7,xlarge,32,4,32,arm64,aws,memory,true,0.2,171,4\n", "line 3: spot_savings_pct '171'"},
        {"r7g.xlarge,r7g,7,xlarge,32,4,32,arm64,aws,memory,true,0.2,71,5\n", "line 3: interrupt_bucket '5'"},
        {"r7g.xlarge,r7g,7,xlarge,64,4,32,arm64,aws,memory,true,0.2,71,4\n", "line 3: size_rank '64' does not match"},
        {"r7g.xlarge,r6g,7,xlarge,32,4,32,arm64,aws,memory,true,0.2,71,4\n", "line 3: family 'r6g'"},
        {"r7g.xlarge,r7g,7,large,32,4,32,arm64,aws,memory,true,0.2,71,4\n", "line 3: size 'large'"},
        {"R7G.xlarge,R7G,7,xlarge,32,4,32,arm64,aws,memory,true,0.2,71,4\n", "line 3: instance_type 'R7G.xlarge'"},
        {"r7g.huge,r7g,7,huge,32,4,32,arm64,aws,memory,true,0.2,71,4\n", "line 3: size 'huge' is not"},
        {"\"r7g.xlarge\",r7g,7,xlarge,32,4,32,arm64,aws,memory,true,0.2,71,4\n", "line 3: quoted fields"},
        {"r7g.xlarge,r7g,7x,xlarge,32,4,32,arm64,aws,memory,true,0.2,71,4\n", "line 3: generation '7x'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(parse_err(bad[i].row, err, sizeof(err)), FR_EPARSE);
        if (strncmp(err, bad[i].msg, strlen(bad[i].msg)) != 0) {
            fprintf(stderr, "case %zu: got '%s', want '%s...'\n", i, err, bad[i].msg);
            fail();
        }
    }
    /* a bad row after good ones names its own line (CRLF lines too) */
    char body[1024];
    snprintf(body, sizeof(body), "%s\r\n%s", "m5.xlarge,m5,5,xlarge,32,4,16,x86_64,intel,general,true,0.192,66,4",
             "m5.2xlarge,m5,5,2xlarge,64,8,32,x86_64,intel,general,true,0.384,54\r\n");
    assert_int_equal(parse_err(body, err, sizeof(err)), FR_EPARSE);
    assert_string_equal(err, "line 4: 13 fields, the header has 14");
    /* duplicates */
    snprintf(body, sizeof(body), "%s%s", good, good);
    assert_int_equal(parse_err(body, err, sizeof(err)), FR_EPARSE);
    assert_string_equal(err, "duplicate instance type 'r7g.xlarge'");
    /* header problems, empty catalog */
    fr_emr_catalog *cat = NULL;
    const char *t1 = "instance_type,family\nm5.xlarge,m5\n";
    assert_int_equal(fr_emr_catalog_parse(t1, strlen(t1), &cat, err, sizeof(err)), FR_EPARSE);
    assert_string_equal(err, "line 1: header: missing column 'generation'");
    assert_int_equal(parse_err("", err, sizeof(err)), FR_EPARSE);
    assert_string_equal(err, "line 2: no instance types");
    assert_int_equal(fr_emr_catalog_parse("# only\n", 7, &cat, err, sizeof(err)), FR_EPARSE);
    assert_null(cat);
    /* extra columns and a different order are accepted */
    const char *t2 = "vendor,instance_type,family,generation,size,size_rank,vcpu,memory_gib,arch,category,emr_supported,"
                     "ondemand_usd_per_hour,spot_savings_pct,interrupt_bucket,note\n"
                     "intel,m5.xlarge,m5,5,xlarge,32,4,16,x86_64,general,true,0.192,,,hello\n";
    assert_int_equal(fr_emr_catalog_parse(t2, strlen(t2), &cat, err, sizeof(err)), 0);
    assert_true(fr_emr_catalog_find(cat, "m5.xlarge")->spot_savings_pct < 0);
    fr_emr_catalog_free(cat);
    /* missing file */
    assert_int_equal(fr_emr_catalog_load("/nonexistent/catalog.csv", &cat, err, sizeof(err)), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_catalog),
        cmocka_unit_test(test_ladder),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
