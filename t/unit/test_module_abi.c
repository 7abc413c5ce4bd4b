/*
 * test_module_abi.c -- the module record has one layout. sluice.h (which
 * handler modules see, and which may include nothing of ours) and the
 * SDK's sl_module_abi.h each hold its definition under the same guard;
 * the two texts must be the same, byte for byte, or one tier would check
 * records against a layout the other does not write.
 *
 * And the record as the SDK's macros fill it: SL_MODULE and
 * SL_HANDLER_MODULE give what the loader compares.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_test.h"
#include "sl_proc.h"

#include <string.h>

#define ABI_BEGIN  "#ifndef SL_MODULE_ABI_T_DEFINED"
#define ABI_END    "#endif /* SL_MODULE_ABI_T_DEFINED */"

/* the text from ABI_BEGIN to ABI_END of a header of the tree */
static char *
abi_block(const char *header)
{
    char  *text, *begin, *end;

    text = sl_t_read(sl_t_path(sl_t_src(), header));
    ck_assert_msg(text != NULL, "cannot read %s", header);

    begin = strstr(text, ABI_BEGIN);
    ck_assert_msg(begin != NULL, "%s has no \"%s\"", header, ABI_BEGIN);
    end = strstr(begin, ABI_END);
    ck_assert_msg(end != NULL, "%s has no \"%s\"", header, ABI_END);

    end[0] = '\0';
    return begin;
}

START_TEST(test_headers_agree)
{
    char  *sdk = abi_block("src/core/sl_module_abi.h");
    char  *pub = abi_block("src/embed/sluice.h");

    ck_assert_msg(strlen(sdk) > 500, "the record's block is too short to be "
                  "the record");
    ck_assert_msg(strcmp(sdk, pub) == 0, "the module record differs between "
                  "src/core/sl_module_abi.h and src/embed/sluice.h: make them "
                  "the same text");
}
END_TEST

/* the value of "#define NAME N" in text */
static int
define_value(const char *text, const char *name)
{
    const char  *p = strstr(text, sl_t_printf("#define %s ", name));
    int          v;

    ck_assert_msg(p != NULL, "sluice.h defines no %s", name);
    ck_assert_int_eq(sscanf(p + strlen(name) + 9, "%d", &v), 1);
    return v;
}

/* handler modules record SLUICE_VERSION: it must be configure's */
START_TEST(test_header_version)
{
    char  *h = sl_t_read(sl_t_path(sl_t_src(), "src/embed/sluice.h"));

    ck_assert_str_eq(sl_t_printf("%d.%d.%d",
                                 define_value(h, "SLUICE_VERSION_MAJOR"),
                                 define_value(h, "SLUICE_VERSION_MINOR"),
                                 define_value(h, "SLUICE_VERSION_PATCH")),
                     SL_VERSION);
}
END_TEST

static sl_module_t  test_abi_module = {
    .name = "test_abi_module",
    .type = SL_CORE_MODULE,
};

SL_MODULE(test_abi, &test_abi_module);

START_TEST(test_full_record)
{
    const sl_module_abi_t  *r = &sl_module_abi_test_abi;
    sl_module_t *const     *list = r->body;

    ck_assert_uint_eq(r->magic, SL_MODULE_ABI_MAGIC);
    ck_assert_uint_eq(r->kind, SL_MODULE_KIND_FULL);
    ck_assert_uint_eq(r->abi_major, SL_MODULE_ABI_MAJOR);
    ck_assert_uint_eq(r->abi_minor, SL_MODULE_ABI_MINOR);
    ck_assert_uint_eq(r->ptr_size, sizeof(void *));
    ck_assert_uint_eq(r->off_size, sizeof(off_t));
    ck_assert_uint_eq(r->time_size, sizeof(time_t));
    ck_assert_uint_eq(r->openssl_major, OPENSSL_VERSION_MAJOR);
    ck_assert_str_eq(r->version, SL_VERSION);
    ck_assert_str_eq(r->name, "test_abi");
    ck_assert_ptr_eq(list[0], &test_abi_module);
    ck_assert_ptr_null(list[1]);
    ck_assert_ptr_null(r->order);
    /* not a static build: the object's entry point is this record */
    ck_assert_ptr_eq(sl_module_abi, r);
}
END_TEST

static Suite *
module_abi_suite(void)
{
    Suite  *s = suite_create("module_abi");
    TCase  *tc = tcase_create("record");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_headers_agree);
    tcase_add_test(tc, test_header_version);
    tcase_add_test(tc, test_full_record);
    suite_add_tcase(s, tc);
    return s;
}

SL_TEST_MAIN(module_abi_suite)
