/* frugal-sim toolkit: form decoding, numbers, ids, the map, MD5, the clock,
 * the catalog, profiles and statistics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "catalog.h"
#include "frugal/err.h"
#include "frugal/str.h"
#include "clock.h"
#include "profile.h"
#include "util.h"

static void test_form_to_json(void **state)
{
    const char *q = "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-a&InstanceId.2=i-b"
                    "&Filter.1.Name=tag%3Afrugal%3Amanaged&Filter.1.Value.1=true&Filter.2.Name=x&Filter.2.Value.1=a"
                    "&Filter.2.Value.2=b+c&MetricDataQueries.member.1.Id=q1"
                    "&MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name=InstanceId"
                    "&MetricDataQueries.member.2.Id=q2";
    json_t *j;
    assert_int_equal(fr_sim_form_to_json(q, strlen(q), &j), 0);
    assert_string_equal(fr_sim_jstr(j, "Action"), "DescribeInstances");
    json_t *ids = json_object_get(j, "InstanceId");
    assert_int_equal(json_array_size(ids), 2);
    assert_string_equal(json_string_value(json_array_get(ids, 1)), "i-b");
    json_t *f = json_object_get(j, "Filter");
    assert_int_equal(json_array_size(f), 2);
    assert_string_equal(fr_sim_jstr(json_array_get(f, 0), "Name"), "tag:frugal:managed");
    json_t *v = json_object_get(json_array_get(f, 1), "Value");
    assert_string_equal(json_string_value(json_array_get(v, 1)), "b c");
    json_t *mq = json_object_get(j, "MetricDataQueries");
    assert_int_equal(json_array_size(mq), 2);
    json_t *dims = json_object_get(json_object_get(json_object_get(json_array_get(mq, 0), "MetricStat"), "Metric"),
                                   "Dimensions");
    assert_string_equal(fr_sim_jstr(json_array_get(dims, 0), "Name"), "InstanceId");
    json_decref(j);
    char *a = fr_sim_form_get(q, strlen(q), "Version");
    assert_string_equal(a, "2016-11-15");
    free(a);
    assert_null(fr_sim_form_get(q, strlen(q), "Nope"));
    /* gaps in indexes collapse */
    const char *g = "L.3=c&L.1=a";
    assert_int_equal(fr_sim_form_to_json(g, strlen(g), &j), 0);
    assert_int_equal(json_array_size(json_object_get(j, "L")), 2);
    json_decref(j);
}

static void test_getters(void **state)
{
    json_t *j = json_pack("{s:s, s:i, s:f, s:s, s:s, s:b, s:s, s:f}", "n", "42", "i", 7, "r", 3.0, "t", "True",
                          "iso", "2024-01-02T03:04:05Z", "b", 1, "bad", "4x", "ep", 1700000000.25);
    int64_t v;
    double d;
    bool b;
    assert_int_equal(fr_sim_jint(j, "n", &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(fr_sim_jint(j, "r", &v), 0);
    assert_int_equal(v, 3);
    assert_int_not_equal(fr_sim_jint(j, "bad", &v), 0);
    assert_int_equal(fr_sim_jnum(j, "n", &d), 0);
    assert_int_equal(fr_sim_jbool(j, "t", &b), 0);
    assert_true(b);
    assert_int_equal(fr_sim_jtime(j, "iso", &v), 0);
    assert_true(v == 1704164645000LL);
    assert_int_equal(fr_sim_jtime(j, "ep", &v), 0);
    assert_true(v == 1700000000250LL);
    json_t *one = json_pack("{s:s}", "L", "x");
    assert_int_equal(json_array_size(fr_sim_jlist(one, "L")), 1);
    json_decref(one);
    json_decref(j);
}

static void test_numbers(void **state)
{
    struct {
        double v;
        int dec;
        const char *want;
    } cases[] = {{12.5, 4, "12.5"}, {3, 4, "3"}, {0.00041, 4, "0.0004"}, {-1.25, 2, "-1.25"},
                 {99.99995, 4, "100"}, {0, 6, "0"}, {1e-9, 6, "0"}, {123456.789, 1, "123456.8"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fr_buf b = FR_BUF_INIT;
        fr_sim_put_num(&b, cases[i].v, cases[i].dec);
        assert_string_equal(fr_buf_cstr(&b), cases[i].want);
        fr_buf_free(&b);
    }
}

static void test_ids_and_map(void **state)
{
    char id[40];
    fr_sim_id_emr(id, sizeof(id), "j-", 1);
    assert_int_equal(strlen(id), 15);
    for (const char *p = id + 2; *p; p++)
        assert_true((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'));
    char id2[40];
    fr_sim_id_emr(id2, sizeof(id2), "j-", 2);
    assert_string_not_equal(id, id2);
    fr_sim_id_ec2(id, sizeof(id), "i-", 1);
    assert_int_equal(strlen(id), 19);
    assert_int_equal(id[2], '0');
    char u[40];
    fr_sim_uuid(u, sizeof(u), 1, 2);
    assert_int_equal(strlen(u), 36);
    assert_int_equal(u[14], '4');
    fr_sim_map m;
    fr_sim_map_init(&m);
    char keys[500][16];
    for (int i = 0; i < 500; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        assert_int_equal(fr_sim_map_put(&m, keys[i], keys[i]), 0);
    }
    for (int i = 0; i < 500; i++)
        assert_ptr_equal(fr_sim_map_get(&m, keys[i]), keys[i]);
    fr_sim_map_put(&m, "k7", keys[8]);
    assert_ptr_equal(fr_sim_map_get(&m, "k7"), keys[8]);
    assert_null(fr_sim_map_get(&m, "nope"));
    assert_int_equal(m.n, 500);
    fr_sim_map_free(&m);
    char md5[33];
    fr_sim_md5_hex("", 0, md5);
    assert_string_equal(md5, "d41d8cd98f00b204e9800998ecf8427e");
    fr_sim_md5_hex("hello", 5, md5);
    assert_string_equal(md5, "5d41402abc4b2a76b9719d911017c592");
}

static void test_rng(void **state)
{
    fr_sim_rng a, b;
    fr_sim_rng_init(&a, 42);
    fr_sim_rng_init(&b, 42);
    for (int i = 0; i < 100; i++)
        assert_true(fr_sim_rng_next(&a) == fr_sim_rng_next(&b));
    double sum = 0;
    for (int i = 0; i < 10000; i++) {
        double u = fr_sim_rng_unit(&a);
        assert_true(u >= 0 && u < 1);
        sum += u;
    }
    assert_true(sum / 10000 > 0.48 && sum / 10000 < 0.52);
    for (int i = 0; i < 1000; i++) {
        int64_t v = fr_sim_rng_range(&a, 3, 5);
        assert_true(v >= 3 && v <= 5);
    }
}

static void test_xml(void **state)
{
    fr_buf b = FR_BUF_INIT;
    fr_sim_xml_text(&b, "a", "<x & \"y\">");
    assert_string_equal(fr_buf_cstr(&b), "<a>&lt;x &amp; &quot;y&quot;&gt;</a>");
    fr_buf_reset(&b);
    fr_sim_xml_time(&b, "t", 1704164645123LL);
    assert_string_equal(fr_buf_cstr(&b), "<t>2024-01-02T03:04:05.123Z</t>");
    fr_buf_free(&b);
}

static void test_clock(void **state)
{
    fr_sim_clock c;
    fr_sim_clock_init(&c, 1000000, 500, 1.0);
    assert_true(fr_sim_clock_now(&c, 500) == 1000000);
    assert_true(fr_sim_clock_now(&c, 1500) == 1001000);
    assert_int_equal(fr_sim_clock_set_speed(&c, 60, 1500), 0);
    assert_true(fr_sim_clock_now(&c, 2500) == 1001000 + 60000);
    assert_int_equal(fr_sim_clock_advance(&c, 10, 2500), 0);
    assert_true(fr_sim_clock_now(&c, 2500) == 1071000);
    assert_true(fr_sim_clock_real_delay(&c, 1071000 + 6000, 2500) == 100);
    assert_int_not_equal(fr_sim_clock_advance(&c, -1, 2500), 0);
    assert_int_not_equal(fr_sim_clock_set_speed(&c, -2, 2500), 0);
    /* the clock never runs backwards, whatever the speed changes */
    int64_t last = fr_sim_clock_now(&c, 2500);
    for (uint64_t t = 2500; t < 3000; t += 7) {
        fr_sim_clock_set_speed(&c, (double)(t % 5), t);
        int64_t n = fr_sim_clock_now(&c, t);
        assert_true(n >= last);
        last = n;
    }
}

static void test_catalog(void **state)
{
    fr_sim_catalog c;
    assert_int_equal(fr_sim_catalog_builtin(&c), 0);
    assert_true(c.n > 800);
    const fr_sim_itype *t = fr_sim_catalog_find(&c, "r7g.4xlarge");
    assert_non_null(t);
    assert_int_equal(t->vcpu, 16);
    assert_true(t->mem_gib == 128.0);
    assert_true(t->arm64);
    assert_true(t->emr);
    t = fr_sim_catalog_find(&c, "m5.xlarge");
    assert_false(t->arm64);
    assert_true(t->od_price > 0.19 && t->od_price < 0.2);
    assert_null(fr_sim_catalog_find(&c, "m5.mega"));
    assert_int_equal(fr_sim_size_mult("r5.large"), 0);
    assert_int_equal(fr_sim_size_mult("r5.xlarge"), 1);
    assert_int_equal(fr_sim_size_mult("r5.12xlarge"), 12);
    assert_int_equal(fr_sim_size_mult("r5.metal"), -1);
    char buf[32];
    fr_sim_type_with_mult(buf, sizeof(buf), "c7g", 8);
    assert_string_equal(buf, "c7g.8xlarge");
    fr_sim_catalog_free(&c);
    int bad_line = -1;
    const char *csv = "instance_type,family,vcpu,memory_gib,arch_rule,ondemand_linux_usd_per_hour,emr_supported,"
                      "spot_savings_pct_vs_od,spot_interrupt_bucket\nx1.big,x1,4,16.0,arm64,0.5,true,60,<5%\n";
    assert_int_equal(fr_sim_catalog_parse_csv(&c, csv, strlen(csv), &bad_line), 0);
    t = fr_sim_catalog_find(&c, "x1.big");
    assert_non_null(t);
    assert_int_equal(t->bucket, 0);
    assert_true(t->arm64);
    fr_sim_catalog_free(&c);
}

/* A bad --catalog row is an error naming its line (was: a bad price or saving
 * silently read as 0, and no line in the message). */
static void test_catalog_malformed(void **state)
{
    (void)state;
    const char *hdr = "instance_type,family,vcpu,memory_gib,arch_rule,ondemand_linux_usd_per_hour,emr_supported,"
                      "spot_savings_pct_vs_od,spot_interrupt_bucket\n";
    const char *good = "x1.big,x1,4,16.0,arm64,0.5,true,60,<5%\n";
    static const struct {
        const char *row;
        int line;
    } cases[] = {
        {"x1.bad,x1,4,16.0\n", 3},                          /* truncated row */
        {"x1.bad,x1,four,16.0,arm64,0.5,true,60,<5%\n", 3}, /* wrong type */
        {"x1.bad,x1,0,16.0,arm64,0.5,true,60,<5%\n", 3},    /* out of range */
        {"x1.bad,x1,4,-1,arm64,0.5,true,60,<5%\n", 3},
        {"x1.bad,x1,4,16.0,arm64,cheap,true,60,<5%\n", 3},
        {"x1.bad,x1,4,16.0,arm64,-0.5,true,60,<5%\n", 3},
        {"x1.bad,x1,4,16.0,arm64,0.5,true,6O,<5%\n", 3},
        {"x1.bad,x1,4,16.0,arm64,0.5,true,99999999999999999999,<5%\n", 3},
        {"x1.bad,x1,4,1e999,arm64,0.5,true,60,<5%\n", 3},
        {"x1.bad,x1,4\0,16.0,arm64,0.5,true,60,<5%\n", 3}, /* NUL */
    };
    char text[512];
    int bad_line = -1;
    fr_sim_catalog c;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t hl = strlen(hdr), gl = strlen(good);
        /* the NUL case: copy the row with its embedded NUL up to the newline */
        const char *nl = cases[i].row;
        while (*nl != '\n')
            nl++;
        size_t rl = (size_t)(nl - cases[i].row) + 1;
        memcpy(text, hdr, hl);
        memcpy(text + hl, good, gl);
        memcpy(text + hl + gl, cases[i].row, rl);
        assert_int_equal(fr_sim_catalog_parse_csv(&c, text, hl + gl + rl, &bad_line), FR_EPARSE);
        assert_int_equal(bad_line, cases[i].line);
        assert_int_equal(c.n, 0); /* nothing half-loaded */
    }
    /* empty, header only: no types (an error without a line) */
    assert_int_equal(fr_sim_catalog_parse_csv(&c, "", 0, &bad_line), FR_EPARSE);
    assert_int_equal(fr_sim_catalog_parse_csv(&c, hdr, strlen(hdr), &bad_line), FR_EPARSE);
    assert_int_equal(bad_line, 0);
    /* an empty price is unknown, not an error */
    snprintf(text, sizeof(text), "%sx1.big,x1,4,16.0,arm64,,true,,<5%%\n", hdr);
    assert_int_equal(fr_sim_catalog_parse_csv(&c, text, strlen(text), &bad_line), 0);
    fr_sim_catalog_free(&c);
}

static void test_profiles_and_stats(void **state)
{
    fr_sim_profile p = {.shape = FR_SIM_SHAPE_SPIKY, .cpu = 12, .mem = 14, .cpu_amp = 4, .mem_amp = 2,
                        .spike_height = 95, .spike_every_min = 90, .spike_len_min = 2};
    fr_sim_life life = {0, 600};
    double vals[600];
    for (int m = 0; m < 600; m++) {
        vals[m] = fr_sim_profile_value(&p, NULL, 7, 8, FR_SIM_METRIC_CPU, m, &life);
        assert_true(vals[m] >= 0 && vals[m] <= 100);
        assert_true(vals[m] == fr_sim_profile_value(&p, NULL, 7, 8, FR_SIM_METRIC_CPU, m, &life));
    }
    fr_sim_stats st;
    fr_sim_stats_of(vals, 600, &st);
    /* short spikes: a high maximum, a low 95th percentile */
    assert_true(st.max > 85);
    assert_true(st.p95 < 25);
    assert_true(st.avg < 20);
    double s[] = {5, 1, 4, 2, 3, 10, 9, 8, 7, 6, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
    fr_sim_stats_of(s, 20, &st);
    assert_true(st.p95 == 19);
    assert_true(st.avg == 10.5);
    for (int sh = 0; sh < FR_SIM_SHAPE_COUNT; sh++) {
        fr_sim_shape x;
        assert_int_equal(fr_sim_shape_parse(fr_sim_shape_name((fr_sim_shape)sh), &x), 0);
        assert_int_equal((int)x, sh);
    }
    json_t *j = fr_sim_profile_to_json(&p);
    fr_sim_profile q;
    assert_int_equal(fr_sim_profile_from_json(j, &q), 0);
    assert_int_equal(q.shape, p.shape);
    assert_int_equal(q.spike_every_min, 90);
    json_decref(j);
}

static void test_traces(void **state)
{
    fr_sim_traces tr = {0};
    const char *nab = "timestamp,value\n2014-02-14 14:30:00,10\n2014-02-14 14:35:00,20\n2014-02-14 14:40:00,30\n"
                      "2014-02-14 14:45:00,20\n2014-02-14 14:50:00,10\n2014-02-14 14:55:00,20\n"
                      "2014-02-14 15:00:00,30\n2014-02-14 15:05:00,20\n2014-02-14 15:10:00,10\n"
                      "2014-02-14 15:15:00,20\n2014-02-14 15:20:00,30\n";
    char why[256] = "";
    assert_int_equal(fr_sim_traces_parse_nab(&tr, "nab-test", nab, strlen(nab), why, sizeof(why)), 0);
    const fr_sim_trace *t = fr_sim_traces_find(&tr, "nab-test");
    assert_non_null(t);
    assert_int_equal(t->n, 11);
    assert_null(t->mem);
    fr_sim_profile p = {.shape = FR_SIM_SHAPE_TRACE, .cpu = 40, .mem = 40, .cpu_amp = 10, .mem_amp = 5};
    fr_strlcpy(p.trace, "nab-test", sizeof(p.trace));
    for (int m = 0; m < 100; m++) {
        double v = fr_sim_profile_value(&p, &tr, 1, 2, FR_SIM_METRIC_CPU, m, NULL);
        assert_true(v > 40 - 20 && v < 40 + 20);
    }
    char path[512];
    snprintf(path, sizeof(path), "%s/utilization", FR_TEST_SHARED_DATA);
    fr_sim_traces all = {0};
    char err[512] = "";
    if (access(path, F_OK) == 0) {
        /* the real folder: 8 NAB CPU series, 8 Bitbrains VMs; its other
         * metrics and the licence are not traces and are not read */
        if (fr_sim_traces_load_dir(&all, path, err, sizeof(err)) != 0)
            fail_msg("%s", err);
        assert_int_equal(all.n, 16);
        bool mem = false;
        for (size_t i = 0; i < all.n; i++)
            mem = mem || all.t[i].mem != NULL;
        assert_true(mem);
    }
    fr_sim_traces_free(&all);
    fr_sim_traces_free(&tr);
}

/* Malformed trace files: each an error that says which line and what was
 * wrong, and nothing of the file is added. */
static void test_traces_malformed(void **state)
{
    (void)state;
    char ok_rows[512] = "";
    for (int i = 0; i < 10; i++)
        snprintf(ok_rows + strlen(ok_rows), sizeof(ok_rows) - strlen(ok_rows), "2014-02-14 14:%02d:00,%d\n", i, i);
    char buf[1024];
    struct {
        const char *text;
        const char *why;
    } nab[] = {
        {"", "empty"},
        {"\n", "line 1: want the header timestamp,value"},
        {"vm_id,timestamp_s,cpu\n1,2,3\n", "line 1: want the header timestamp,value"},
        {"{\"not\": \"csv\"}", "line 1: want the header"},
        {"timestamp,value\n", "0 points, want at least 10"},
        {"timestamp,value\n2014-02-14 14:30:00,1\n", "1 points, want at least 10"},
        {"timestamp,value\n2014-02-14 14:30:00,abc\n", "line 2: value \"abc\" is not a percentage"},
        {"timestamp,value\n2014-02-14 14:30:00,1\n2014-02-14 14:35:00,-3\n", "line 3: value \"-3\""},
        {"timestamp,value\n2014-02-14 14:30:00,nan\n", "line 2: value \"nan\""},
        {"timestamp,value\n2014-02-14 14:30:00,\n", "line 2: the value is not a number"},
        {"timestamp,value\n2014-02-14 14:30:00\n", "line 2: want 2 fields"},
        {"timestamp,value\n,5\n", "line 2: want 2 fields"},
        {"timestamp,value\n2014-02-14 14:30:00,1,2\n", "line 2: want 2 fields"},
        {"timestamp,value\r\n2014-02-14 14:30:00,1 \r\n", "line 2: value \"1 \""},
    };
    for (size_t i = 0; i < FR_ARRAY_SIZE(nab); i++) {
        fr_sim_traces tr = {0};
        char why[256] = "";
        int rc = fr_sim_traces_parse_nab(&tr, "nab-x", nab[i].text, strlen(nab[i].text), why, sizeof(why));
        if (rc != FR_EPARSE || !strstr(why, nab[i].why))
            fail_msg("nab case %zu: rc %d why \"%s\"", i, rc, why);
        assert_int_equal(tr.n, 0);
        fr_sim_traces_free(&tr);
    }
    /* a bad row after good ones: still nothing added */
    snprintf(buf, sizeof(buf), "timestamp,value\n%sx,y\n", ok_rows);
    fr_sim_traces tr = {0};
    char why[256] = "";
    assert_int_equal(fr_sim_traces_parse_nab(&tr, "nab-x", buf, strlen(buf), why, sizeof(why)), FR_EPARSE);
    assert_non_null(strstr(why, "line 12:"));
    assert_int_equal(tr.n, 0);
    /* CRLF, blank lines and values a little above 100 (clamped) are fine */
    snprintf(buf, sizeof(buf), "timestamp,value\r\n%s\n2014-02-14 15:00:00,104.5\r\n\n", ok_rows);
    assert_int_equal(fr_sim_traces_parse_nab(&tr, "nab-x", buf, strlen(buf), why, sizeof(why)), 0);
    assert_int_equal(tr.n, 1);
    assert_int_equal(tr.t[0].n, 11);
    assert_true(tr.t[0].cpu[10] == 100.0f);
    fr_sim_traces_free(&tr);

#define BB_HEAD "vm_id,timestamp_s,cpu_cores,cpu_capacity_mhz,cpu_usage_mhz,cpu_usage_pct,mem_capacity_kb,mem_usage_kb\n"
    struct {
        const char *text;
        const char *why;
    } bb[] = {
        {"", "empty"},
        {"timestamp,value\n2014-02-14 14:30:00,1\n", "line 1: want the header vm_id,"},
        {"vm_id,timestamp_s,cpu_cores,cpu_capacity_mhz,cpu_usage_mhz,cpu_pct,mem_capacity_kb,mem_usage_kb\n",
         "line 1: want the header"},
        {BB_HEAD, "no rows after the header"},
        {BB_HEAD "\n\n", "no rows after the header"},
        {BB_HEAD "vm1,1,1,2600,20,0.8,4194304\n", "line 2: 7 fields, want 8"},
        {BB_HEAD "vm1,1,1,2600,20,0.8,4194304,100,9\n", "line 2: 9 fields, want 8"},
        {BB_HEAD "vm1,1,1,2600,20,high,4194304,100\n", "line 2: cpu_usage_pct \"high\""},
        {BB_HEAD "vm1,1,1,2600,20,-1,4194304,100\n", "line 2: cpu_usage_pct \"-1\""},
        {BB_HEAD "vm1,1,1,2600,20,1,,100\n", "line 2: mem_capacity_kb \"\""},
        {BB_HEAD "vm1,1,1,2600,20,1,4194304,1e999\n", "line 2: mem_usage_kb \"1e999\""},
        {BB_HEAD ",1,1,2600,20,1,4194304,100\n", "line 2: vm_id is empty"},
        {BB_HEAD "vm1,1,1,2600,20,1,4194304,100\nvm2,1,1,2600,20,1,4194304,100\nvm1,2,1,2600,20,1,4194304,100\n",
         "line 4: VM vm1 again"},
        {BB_HEAD "vm1,1,1,2600,20,1,4194304,100\nvm1,2,1,2600,20,1,4194304,100,"
                 ",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,\n",
         "line 3: 32+ fields, want 8"},
    };
    for (size_t i = 0; i < FR_ARRAY_SIZE(bb); i++) {
        fr_sim_traces t2 = {0};
        why[0] = '\0';
        int rc = fr_sim_traces_parse_bitbrains(&t2, bb[i].text, strlen(bb[i].text), why, sizeof(why));
        if (rc != FR_EPARSE || !strstr(why, bb[i].why))
            fail_msg("bitbrains case %zu: rc %d why \"%s\"", i, rc, why);
        assert_int_equal(t2.n, 0);
        fr_sim_traces_free(&t2);
    }
    /* an over-long line */
    memset(buf, '1', sizeof(buf));
    memcpy(buf, BB_HEAD, strlen(BB_HEAD));
    buf[sizeof(buf) - 1] = '\0';
    assert_int_equal(fr_sim_traces_parse_bitbrains(&tr, buf, strlen(buf), why, sizeof(why)), FR_EPARSE);
    assert_non_null(strstr(why, "line 2: longer than"));
    /* the real file's shape: 12 columns, CRLF, two VMs */
    const char *good = "vm_id,timestamp_s,cpu_cores,cpu_capacity_mhz,cpu_usage_mhz,cpu_usage_pct,mem_capacity_kb,"
                       "mem_usage_kb,disk_read_kbps,disk_write_kbps,net_rx_kbps,net_tx_kbps\r\n"
                       "a,1,1,2600,20,0.8,4194304.0,142605.6,0.0,8.4,0.2,0.6\r\n"
                       "a,2,1,2600,20,105.8,4194304.0,4194400.0,0.0,8.4,0.2,0.6\r\n"
                       "b,1,1,2600,20,3,0,0,0.0,8.4,0.2,0.6\r\n";
    assert_int_equal(fr_sim_traces_parse_bitbrains(&tr, good, strlen(good), why, sizeof(why)), 0);
    assert_int_equal(tr.n, 2);
    assert_string_equal(tr.t[0].name, "bitbrains-a");
    assert_int_equal(tr.t[0].n, 2);
    assert_true(tr.t[0].cpu[1] == 100.0f && tr.t[0].mem[1] == 100.0f);
    assert_string_equal(tr.t[1].name, "bitbrains-b");
    fr_sim_traces_free(&tr);
#undef BB_HEAD
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_to_json), cmocka_unit_test(test_getters),
        cmocka_unit_test(test_numbers),      cmocka_unit_test(test_ids_and_map),
        cmocka_unit_test(test_rng),          cmocka_unit_test(test_xml),
        cmocka_unit_test(test_clock),        cmocka_unit_test(test_catalog), cmocka_unit_test(test_catalog_malformed),
        cmocka_unit_test(test_profiles_and_stats), cmocka_unit_test(test_traces), cmocka_unit_test(test_traces_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
