/* test_azdo_demand.c - demand parsing, matching against capabilities, and capability set keys,
 * with field report #3's job table as the routing table. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "azdo/demand.h"

static void test_parse_three_forms(void **state)
{
    struct demand d;
    (void)state;

    assert_int_equal(demand_parse("maven", &d, NULL), 0);
    assert_int_equal(d.op, DEMAND_EXISTS);
    assert_string_equal(d.name, "maven");
    assert_null(d.value);
    demand_clear(&d);

    assert_int_equal(demand_parse("  Agent.OS   -equals   Linux x64  ", &d, NULL), 0);
    assert_int_equal(d.op, DEMAND_EQUALS);
    assert_string_equal(d.name, "Agent.OS");
    assert_string_equal(d.value, "Linux x64");
    demand_clear(&d);

    assert_int_equal(demand_parse("Agent.Version -gtVersion 2.163.1", &d, NULL), 0);
    assert_int_equal(d.op, DEMAND_GT_VERSION);
    assert_string_equal(d.name, "Agent.Version");
    assert_string_equal(d.value, "2.163.1");
    demand_clear(&d);

    assert_int_equal(demand_parse("gpu -EQUALS true", &d, NULL), 0); /* opcode case-insensitive */
    assert_int_equal(d.op, DEMAND_EQUALS);
    demand_clear(&d);
}

static void test_parse_rejects_what_the_server_rejects(void **state)
{
    struct demand d;
    struct err err = {0};
    (void)state;

    assert_int_equal(demand_parse("maven -exists", &d, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "unknown operator '-exists'"));
    assert_int_equal(demand_parse("java -equals", &d, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "needs a value"));
    assert_int_equal(demand_parse("java -like 17*", &d, &err), -EINVAL);
    assert_int_equal(demand_parse("java 17", &d, &err), -EINVAL);
    assert_int_equal(demand_parse("   ", &d, &err), -EINVAL);
    assert_null(d.name);
}

static void caps_add(struct azdo_caps *caps, const char *name, const char *value)
{
    assert_int_equal(azdo_caps_set(caps, name, value, false), 0);
}

static void test_matching_rules(void **state)
{
    struct azdo_caps caps = {0};
    (void)state;

    caps_add(&caps, "Agent.OS", "Linux");
    caps_add(&caps, "Agent.Version", "3.248.0");
    caps_add(&caps, "java", "/usr/lib/jvm/17");
    caps_add(&caps, "empty", "");

    const char *yes[] = {"java",
                         "JAVA",
                         "empty",
                         "Agent.OS -equals linux",
                         "agent.os -equals LINUX",
                         "Agent.Version -gtVersion 3.248.0",
                         "Agent.Version -gtVersion 3.220.0",
                         "Agent.Version -gtVersion 2.163.1",
                         "Agent.Version -gtVersion 3"};
    const char *no[] = {"maven",
                        "Agent.OS -equals Windows_NT",
                        "Agent.Version -gtVersion 3.248.1",
                        "Agent.Version -gtVersion 4.0",
                        "java -gtVersion 17",
                        "maven -exists",
                        "Agent.Version -gtVersion 3.x"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (!demands_satisfied(&yes[i], 1, &caps))
            fail_msg("'%s' should be satisfied", yes[i]);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        if (demands_satisfied(&no[i], 1, &caps))
            fail_msg("'%s' should not be satisfied", no[i]);
    }
    assert_true(demands_satisfied(NULL, 0, &caps));
    assert_true(demands_satisfied(yes, sizeof(yes) / sizeof(yes[0]), &caps));
    const char *mixed[] = {"java", "maven"};
    assert_false(demands_satisfied(mixed, 2, &caps));
    azdo_caps_clear(&caps);
}

static void test_user_capability_overrides_system(void **state)
{
    struct azdo_caps caps = {0};
    const char *d[] = {"gpu -equals true"};
    (void)state;

    assert_int_equal(azdo_caps_set(&caps, "gpu", "false", false), 0);
    assert_false(demands_satisfied(d, 1, &caps));
    assert_int_equal(azdo_caps_set(&caps, "GPU", "true", true), 0);
    assert_int_equal(caps.len, 1);
    assert_true(demands_satisfied(d, 1, &caps));
    azdo_caps_clear(&caps);
}

static void test_version_compare(void **state)
{
    int cmp;
    (void)state;

    assert_int_equal(demand_version_cmp("3.248.0", "3.220.0", &cmp), 0);
    assert_int_equal(cmp, 1);
    assert_int_equal(demand_version_cmp("2.163.1", "2.163.1", &cmp), 0);
    assert_int_equal(cmp, 0);
    assert_int_equal(demand_version_cmp("2.99", "2.163.1", &cmp), 0); /* numeric, not textual */
    assert_int_equal(cmp, -1);
    assert_int_equal(demand_version_cmp("3", "3.0.0", &cmp), 0);
    assert_int_equal(cmp, 0);
    assert_int_equal(demand_version_cmp("3.0-beta", "3.0", &cmp), -EINVAL);
    assert_int_equal(demand_version_cmp("", "3.0", &cmp), -EINVAL);
}

static char *key_of(const char *const *demands, size_t n, bool names)
{
    char *key = NULL;
    int rc =
        names ? demand_set_names(demands, n, &key, NULL) : demand_set_key(demands, n, &key, NULL);
    assert_int_equal(rc, 0);
    return key;
}

static void test_set_key_is_canonical(void **state)
{
    const char *a[] = {"Agent.OS -equals Linux", "GPU", "Agent.Version -gtVersion 3.0.0"};
    const char *b[] = {"gpu", "agent.os -EQUALS linux", "gpu"};
    const char *c[] = {"tool -gtVersion 1.2", "gpu"};
    char *ka, *kb, *kc;
    (void)state;

    ka = key_of(a, 3, false);
    kb = key_of(b, 3, false);
    kc = key_of(c, 2, false);
    assert_string_equal(ka, "[\"agent.os -equals linux\",\"gpu\"]");
    assert_string_equal(kb, ka);
    assert_string_equal(kc, "[\"gpu\",\"tool -gtVersion 1.2\"]");
    free(ka);
    free(kb);
    free(kc);
}

/* Field report #3: the operator manages keys gpu and java17; a job goes to the variant whose key
 * is the only managed key among its demand names, to the default image when none is, and
 * nowhere when two are. This is the planner's rule; here we check the names key gives it what
 * it needs, and that the set key separates the jobs the same way. */
static const char *route(const char *names_json)
{
    bool gpu = strstr(names_json, "\"gpu\"") != NULL;
    bool java = strstr(names_json, "\"java17\"") != NULL;

    if (gpu && java)
        return "none";
    if (gpu)
        return "gpu";
    if (java)
        return "java17";
    return "default";
}

static void test_field_report_3_table(void **state)
{
    static const struct {
        const char *job;
        const char *demands[3];
        size_t n;
        const char *names;
        const char *variant;
    } table[] = {
        {"a", {NULL}, 0, "[]", "default"},
        {"b", {"Agent.Version -gtVersion 2.163.1"}, 1, "[]", "default"},
        {"c", {"gpu"}, 1, "[\"gpu\"]", "gpu"},
        {"d", {"gpu", "Agent.Version -gtVersion 3.0.0"}, 2, "[\"gpu\"]", "gpu"},
        {"e", {"java17", "npm"}, 2, "[\"java17\",\"npm\"]", "java17"},
        {"f", {"gpu", "java17"}, 2, "[\"gpu\",\"java17\"]", "none"},
        {"g", {"gpu -equals true"}, 1, "[\"gpu\"]", "gpu"},
        {"h", {"cuda"}, 1, "[\"cuda\"]", "default"},
    };
    int per_variant[4] = {0}; /* default, gpu, java17, none */
    (void)state;

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        char *names = key_of(table[i].demands, table[i].n, true);
        const char *v = route(names);

        if (strcmp(names, table[i].names) != 0 || strcmp(v, table[i].variant) != 0)
            fail_msg("job %s: names %s routed to %s, expected %s / %s", table[i].job, names, v,
                     table[i].names, table[i].variant);
        per_variant[strcmp(v, "default") == 0  ? 0
                    : strcmp(v, "gpu") == 0    ? 1
                    : strcmp(v, "java17") == 0 ? 2
                                               : 3]++;
        free(names);
    }
    /* "One poll creates exactly 7 pods: 3 default (a, b, h), 3 gpu (c, d, g), 1 java17 (e)". */
    assert_int_equal(per_variant[0], 3);
    assert_int_equal(per_variant[1], 3);
    assert_int_equal(per_variant[2], 1);
    assert_int_equal(per_variant[3], 1);

    /* a and b share a group (Agent.Version ignored); c and d too; g differs from c by value. */
    char *ka = key_of(table[0].demands, 0, false), *kb = key_of(table[1].demands, 1, false);
    char *kc = key_of(table[2].demands, 1, false), *kd = key_of(table[3].demands, 2, false);
    char *kg = key_of(table[6].demands, 1, false);
    assert_string_equal(ka, "[]");
    assert_string_equal(ka, kb);
    assert_string_equal(kc, kd);
    assert_string_equal(kg, "[\"gpu -equals true\"]");
    free(ka);
    free(kb);
    free(kc);
    free(kd);
    free(kg);
}

static void test_gpu_pod_capabilities_satisfy_gpu_jobs(void **state)
{
    /* A gpu pod advertises gpu=true through its env; it must satisfy c, d (with a version the
     * agent has) and g, and not h. */
    struct azdo_caps caps = {0};
    const char *c[] = {"gpu"};
    const char *d[] = {"gpu", "Agent.Version -gtVersion 3.0.0"};
    const char *g[] = {"gpu -equals true"};
    const char *h[] = {"cuda"};
    (void)state;

    caps_add(&caps, "Agent.Version", "3.248.0");
    caps_add(&caps, "gpu", "true");
    assert_true(demands_satisfied(c, 1, &caps));
    assert_true(demands_satisfied(d, 2, &caps));
    assert_true(demands_satisfied(g, 1, &caps));
    assert_false(demands_satisfied(h, 1, &caps));
    azdo_caps_clear(&caps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_three_forms),
        cmocka_unit_test(test_parse_rejects_what_the_server_rejects),
        cmocka_unit_test(test_matching_rules),
        cmocka_unit_test(test_user_capability_overrides_system),
        cmocka_unit_test(test_version_compare),
        cmocka_unit_test(test_set_key_is_canonical),
        cmocka_unit_test(test_field_report_3_table),
        cmocka_unit_test(test_gpu_pod_capabilities_satisfy_gpu_jobs),
    };
    return cmocka_run_group_tests_name("azdo_demand", tests, NULL, NULL);
}
