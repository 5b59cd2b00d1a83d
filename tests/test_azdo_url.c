/* test_azdo_url.c - organisation URLs of every accepted form, refusals, and endpoint URLs. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "azdo/url.h"

static void parses_to(const char *url, const char *base, const char *key, enum azdo_flavor fl)
{
    struct azdo_org org;
    struct err err = {0};

    if (azdo_org_parse(url, &org, &err) != 0)
        fail_msg("'%s' refused: %s", url, err.msg);
    assert_string_equal(org.base, base);
    assert_string_equal(org.key, key);
    assert_int_equal(org.flavor, fl);
}

static void refused(const char *url, const char *reason_part)
{
    struct azdo_org org;
    struct err err = {0};

    assert_int_equal(azdo_org_parse(url, &org, &err), -EINVAL);
    if (strstr(err.msg, reason_part) == NULL)
        fail_msg("'%s': message '%s' lacks '%s'", url, err.msg, reason_part);
}

static void test_services_dev_azure_com(void **state)
{
    (void)state;
    parses_to("https://dev.azure.com/my-org", "https://dev.azure.com/my-org",
              "dev.azure.com/my-org", AZDO_SERVICES);
    parses_to("https://dev.azure.com/my-org/", "https://dev.azure.com/my-org",
              "dev.azure.com/my-org", AZDO_SERVICES);
    parses_to("HTTPS://Dev.Azure.com/My-Org//", "https://dev.azure.com/My-Org",
              "dev.azure.com/my-org", AZDO_SERVICES);
    parses_to("https://dev.azure.com:443/my-org", "https://dev.azure.com/my-org",
              "dev.azure.com/my-org", AZDO_SERVICES);
}

static void test_services_visualstudio_com_shares_the_org_key(void **state)
{
    (void)state;
    parses_to("https://My-Org.visualstudio.com", "https://my-org.visualstudio.com",
              "dev.azure.com/my-org", AZDO_SERVICES);
    parses_to("https://my-org.visualstudio.com/", "https://my-org.visualstudio.com",
              "dev.azure.com/my-org", AZDO_SERVICES);
    parses_to("https://my-org.visualstudio.com/DefaultCollection",
              "https://my-org.visualstudio.com/DefaultCollection", "dev.azure.com/my-org",
              AZDO_SERVICES);
}

static void test_server_collections_keep_any_path(void **state)
{
    (void)state;
    parses_to("https://tfs.example.com/tfs/DefaultCollection/",
              "https://tfs.example.com/tfs/DefaultCollection",
              "tfs.example.com/tfs/defaultcollection", AZDO_SERVER);
    parses_to("https://ado.corp.example:8443/Collection",
              "https://ado.corp.example:8443/Collection", "ado.corp.example:8443/collection",
              AZDO_SERVER);
    parses_to("https://ado.corp.example/a/b/c", "https://ado.corp.example/a/b/c",
              "ado.corp.example/a/b/c", AZDO_SERVER);
}

static void test_loopback_allows_plain_http(void **state)
{
    (void)state;
    parses_to("http://127.0.0.1:18081/my-org", "http://127.0.0.1:18081/my-org",
              "127.0.0.1:18081/my-org", AZDO_LOOPBACK);
    parses_to("http://localhost:18081/my-org/", "http://localhost:18081/my-org",
              "localhost:18081/my-org", AZDO_LOOPBACK);
    parses_to("http://[::1]:9/org", "http://[::1]:9/org", "[::1]:9/org", AZDO_LOOPBACK);
    parses_to("https://127.0.0.1/org", "https://127.0.0.1/org", "127.0.0.1/org", AZDO_LOOPBACK);
}

static void test_refusals_name_the_problem(void **state)
{
    (void)state;
    refused("http://dev.azure.com/my-org", "https");
    refused("http://tfs.example.com/tfs/DefaultCollection", "clear text");
    refused("http://127.evil.example/org", "https");
    refused("ftp://dev.azure.com/my-org", "https://");
    refused("https://dev.azure.com", "organisation");
    refused("https://dev.azure.com/my-org/my-project", "path after the organisation");
    refused("https://my-org.visualstudio.com/my-project", "path after the organisation");
    refused("https://dev.azure.com/my-org?x=1", "query");
    refused("https://dev.azure.com/my-org#frag", "query or fragment");
    refused("https://dev.azure.com/my org", "whitespace");
    refused("", "empty");
    refused("https://:443/x", "host");
    refused("https://host:99999/x", "port");
    refused("https://host:/x", "port");
}

static void test_credentials_in_url_are_refused_without_echo(void **state)
{
    struct azdo_org org;
    struct err err = {0};
    (void)state;

    assert_int_equal(azdo_org_parse("https://user:s3cretPAT@dev.azure.com/my-org", &org, &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "credentials"));
    assert_null(strstr(err.msg, "s3cretPAT"));
}

static void test_pool_by_name_is_escaped_and_versioned(void **state)
{
    struct azdo_org org;
    char *url = NULL;
    (void)state;

    assert_int_equal(azdo_org_parse("https://dev.azure.com/my-org", &org, NULL), 0);
    assert_int_equal(azdo_url_pool_by_name(&org, "k8s linux&co/é", &url, NULL), 0);
    assert_string_equal(url, "https://dev.azure.com/my-org/_apis/distributedtask/pools"
                             "?poolName=k8s%20linux%26co%2F%C3%A9&poolType=automation"
                             "&api-version=" AZDO_API_VERSION);
    free(url);
}

static void test_agents_urls_carry_the_requested_includes(void **state)
{
    struct azdo_org org;
    char *url = NULL;
    (void)state;

    assert_int_equal(azdo_org_parse("https://tfs.example.com/tfs/Coll", &org, NULL), 0);
    assert_int_equal(azdo_url_agents(&org, 42, AZDO_INC_ASSIGNED, &url, NULL), 0);
    assert_string_equal(url, "https://tfs.example.com/tfs/Coll/_apis/distributedtask/pools/42/"
                             "agents?includeAssignedRequest=true&api-version=7.1");
    free(url);
    assert_int_equal(
        azdo_url_agents(&org, 42,
                        AZDO_INC_ASSIGNED | AZDO_INC_CAPABILITIES | AZDO_INC_LAST_COMPLETED, &url,
                        NULL),
        0);
    assert_string_equal(url, "https://tfs.example.com/tfs/Coll/_apis/distributedtask/pools/42/"
                             "agents?includeCapabilities=true&includeAssignedRequest=true&"
                             "includeLastCompletedRequest=true&api-version=7.1");
    free(url);
    assert_int_equal(azdo_url_agents(&org, 42, 0, &url, NULL), 0);
    assert_string_equal(url, "https://tfs.example.com/tfs/Coll/_apis/distributedtask/pools/42/"
                             "agents?api-version=7.1");
    free(url);
    assert_int_equal(azdo_url_agent(&org, 42, 11735, AZDO_INC_ASSIGNED, &url, NULL), 0);
    assert_string_equal(url, "https://tfs.example.com/tfs/Coll/_apis/distributedtask/pools/42/"
                             "agents/11735?includeAssignedRequest=true&api-version=7.1");
    free(url);
    assert_int_equal(azdo_url_agent(&org, 42, 11735, 0, &url, NULL), 0);
    assert_string_equal(url, "https://tfs.example.com/tfs/Coll/_apis/distributedtask/pools/42/"
                             "agents/11735?api-version=7.1");
    free(url);
}

static void test_jobrequests_only_unfinished(void **state)
{
    struct azdo_org org;
    char *url = NULL;
    (void)state;

    assert_int_equal(azdo_org_parse("http://127.0.0.1:18081/my-org/", &org, NULL), 0);
    assert_int_equal(azdo_url_jobrequests(&org, 7, &url, NULL), 0);
    assert_string_equal(url, "http://127.0.0.1:18081/my-org/_apis/distributedtask/pools/7/"
                             "jobrequests?completedRequestCount=0");
    free(url);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_services_dev_azure_com),
        cmocka_unit_test(test_services_visualstudio_com_shares_the_org_key),
        cmocka_unit_test(test_server_collections_keep_any_path),
        cmocka_unit_test(test_loopback_allows_plain_http),
        cmocka_unit_test(test_refusals_name_the_problem),
        cmocka_unit_test(test_credentials_in_url_are_refused_without_echo),
        cmocka_unit_test(test_pool_by_name_is_escaped_and_versioned),
        cmocka_unit_test(test_agents_urls_carry_the_requested_includes),
        cmocka_unit_test(test_jobrequests_only_unfinished),
    };
    return cmocka_run_group_tests_name("azdo_url", tests, NULL, NULL);
}
