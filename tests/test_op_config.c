/* test_op_config.c - `azdo-operator run` flags: defaults, values, and errors naming the flag. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "operator/config.h"

static int parse(struct op_config *cfg, struct err *err, int argc, const char **argv)
{
    return op_config_parse(argc, (char **)argv, cfg, err);
}

static void test_defaults_match_documentation(void **state)
{
    (void)state;
    struct op_config cfg;
    struct err err = {0};
    const char *argv[] = {"run"};

    assert_int_equal(parse(&cfg, &err, 1, argv), 0);
    assert_string_equal(cfg.db_path, "/var/lib/azdo-operator/state.db");
    assert_int_equal(cfg.poll_interval_s, 10);
    assert_int_equal(cfg.retention_days, 30);
    assert_int_equal(cfg.webhook_port, 9443);
    assert_int_equal(cfg.metrics_port, 8080);
    assert_string_equal(cfg.webhook_config_name, "azdo-runner-operator");
    assert_false(cfg.leader_elect);
    assert_null(cfg.kube_url);
}

static void test_values_are_taken(void **state)
{
    (void)state;
    struct op_config cfg;
    struct err err = {0};
    const char *argv[] = {"run", "--kube-url", "http://127.0.0.1:1", "--db", "/tmp/x.db",
                          "--poll-interval", "2", "--webhook-port", "0", "--webhook-san",
                          "127.0.0.1", "--webhook-san", "localhost", "--leader-elect"};

    assert_int_equal(parse(&cfg, &err, 14, argv), 0);
    assert_string_equal(cfg.kube_url, "http://127.0.0.1:1");
    assert_string_equal(cfg.db_path, "/tmp/x.db");
    assert_int_equal(cfg.poll_interval_s, 2);
    assert_int_equal(cfg.webhook_port, 0);
    assert_int_equal(cfg.n_webhook_sans, 2);
    assert_string_equal(cfg.webhook_sans[1], "localhost");
    assert_true(cfg.leader_elect);
}

static void test_bad_values_name_the_flag(void **state)
{
    (void)state;
    struct op_config cfg;
    struct err err = {0};
    const char *bad_poll[] = {"run", "--poll-interval", "ten"};
    const char *bad_port[] = {"run", "--metrics-port", "70000"};
    const char *unknown[] = {"run", "--pool-interval", "5"};
    const char *missing[] = {"run", "--db"};
    const char *both[] = {"run", "--kube-url", "http://x", "--kubeconfig", "/k"};

    assert_true(parse(&cfg, &err, 3, bad_poll) < 0);
    assert_non_null(strstr(err.msg, "--poll-interval: 'ten'"));
    assert_true(parse(&cfg, &err, 3, bad_port) < 0);
    assert_non_null(strstr(err.msg, "--metrics-port"));
    assert_true(parse(&cfg, &err, 3, unknown) < 0);
    assert_non_null(strstr(err.msg, "--pool-interval"));
    assert_true(parse(&cfg, &err, 2, missing) < 0);
    assert_non_null(strstr(err.msg, "--db"));
    assert_true(parse(&cfg, &err, 5, both) < 0);
    assert_non_null(strstr(err.msg, "give one"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_match_documentation),
        cmocka_unit_test(test_values_are_taken),
        cmocka_unit_test(test_bad_values_name_the_flag),
    };
    return cmocka_run_group_tests_name("op_config", tests, NULL, NULL);
}
