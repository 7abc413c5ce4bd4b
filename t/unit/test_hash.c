/*
 * test_hash.c -- the exact hash and the combined server-name table
 * (sl_hash.h).
 */
#include "sl_config.h"
#include "sl_core.h"

#include "sl_test.h"


#define NRANDOM  5000


static sl_pool_t  *pool;


static void
setup(void)
{
    pool = sl_create_pool(SL_DEFAULT_POOL_SIZE, NULL);
    ck_assert_ptr_nonnull(pool);
}


static void
teardown(void)
{
    sl_destroy_pool(pool);
    pool = NULL;
}


/* values are the addresses of these, so each one is distinct */
static int  v[16];


START_TEST(test_hash_keys)
{
    u_char     dst[16];
    sl_uint_t  k;

    k = sl_hash_key((u_char *) "example.com", 11);

    ck_assert_uint_eq(sl_hash_key_lc((u_char *) "ExAmPlE.CoM", 11), k);
    ck_assert_uint_eq(sl_hash_strlow(dst, (u_char *) "EXAMPLE.COM", 11), k);
    ck_assert(memcmp(dst, "example.com", 11) == 0);

    ck_assert_uint_ne(sl_hash_key((u_char *) "example.org", 11), k);
    ck_assert_uint_ne(sl_hash_key((u_char *) "example.co", 10), k);
    ck_assert_uint_ne(sl_hash_key((u_char *) "ab", 2),
                      sl_hash_key((u_char *) "ba", 2));
    ck_assert_uint_eq(sl_hash_key((u_char *) "", 0),
                      sl_hash_key_lc((u_char *) "x", 0));
}
END_TEST


static void
set_key(sl_hash_key_t *k, const char *name, void *value)
{
    k->key.data = (u_char *) name;
    k->key.len = strlen(name);
    k->key_hash = sl_hash_key_lc(k->key.data, k->key.len);
    k->value = value;
}


static void *
find(sl_hash_t *h, const char *name)
{
    size_t  len = strlen(name);

    return sl_hash_find(h, sl_hash_key((u_char *) name, len), (u_char *) name,
                        len);
}


START_TEST(test_hash_exact)
{
    sl_hash_t      h;
    sl_hash_key_t  k[7];
    char           mutable[] = "Mutable";

    set_key(&k[0], "content-length", &v[0]);
    set_key(&k[1], "Content-Type", &v[1]);       /* stored lower-cased */
    set_key(&k[2], "host", &v[2]);
    set_key(&k[3], "HOST", &v[3]);               /* a repeat: first wins */
    set_key(&k[4], "", &v[4]);
    set_key(&k[5], "x", &v[5]);
    set_key(&k[6], mutable, &v[6]);

    ck_assert_int_eq(sl_hash_init(&h, k, 7, pool), SL_OK);
    ck_assert_uint_eq(h.nelts, 6);

    /* the table keeps its own copy of the names */
    memcpy(mutable, "XXXXXXX", 7);
    ck_assert_ptr_eq(find(&h, "mutable"), &v[6]);

    ck_assert_ptr_eq(find(&h, "content-length"), &v[0]);
    ck_assert_ptr_eq(find(&h, "content-type"), &v[1]);
    ck_assert_ptr_eq(find(&h, "host"), &v[2]);
    ck_assert_ptr_eq(find(&h, ""), &v[4]);
    ck_assert_ptr_eq(find(&h, "x"), &v[5]);

    ck_assert_ptr_null(find(&h, "Content-Type"));   /* lookups are lower */
    ck_assert_ptr_null(find(&h, "content"));
    ck_assert_ptr_null(find(&h, "content-lengthx"));
    ck_assert_ptr_null(find(&h, "hos"));
    ck_assert_ptr_null(find(&h, "y"));

    /* the right key but another name of that length is still absent */
    ck_assert_ptr_null(sl_hash_find(&h, sl_hash_key((u_char *) "host", 4),
                                    (u_char *) "hoss", 4));
}
END_TEST


START_TEST(test_hash_empty)
{
    sl_hash_t           h;
    sl_hash_keys_t      ha;
    sl_hash_combined_t  c;

    ck_assert_int_eq(sl_hash_init(&h, NULL, 0, pool), SL_OK);
    ck_assert_ptr_null(find(&h, "anything"));
    ck_assert_ptr_null(find(&h, ""));

    ck_assert_int_eq(sl_hash_keys_init(&ha, pool, pool), SL_OK);
    ck_assert_int_eq(sl_hash_combined_init(&c, &ha, pool), SL_OK);
    ck_assert_ptr_null(sl_hash_find_combined(&c, sl_hash_key((u_char *) "a.b",
                                             3), (u_char *) "a.b", 3));
}
END_TEST


/* a unique random name: random letters, then the index in base 36 */
static size_t
random_name(u_char *buf, size_t i, const char *alphabet)
{
    size_t  n, len, alen;

    alen = strlen(alphabet);
    len = 1 + (size_t) rand() % 24;

    for (n = 0; n < len; n++) {
        buf[n] = (u_char) alphabet[rand() % alen];
    }

    buf[n++] = '-';

    do {
        buf[n++] = (u_char) "0123456789abcdefghijklmnopqrstuvwxyz"[i % 36];
        i /= 36;
    } while (i);

    return n;
}


START_TEST(test_hash_random)
{
    sl_hash_t       h;
    sl_hash_key_t  *keys;
    u_char          name[64];
    size_t          i;

    srand(4242);

    keys = sl_palloc(pool, NRANDOM * sizeof(sl_hash_key_t));
    ck_assert_ptr_nonnull(keys);

    for (i = 0; i < NRANDOM; i++) {
        keys[i].key.len = random_name(name, i, "ABCDEFGHIJabcdefghij.-_");
        keys[i].key.data = sl_pnalloc(pool, keys[i].key.len);
        ck_assert_ptr_nonnull(keys[i].key.data);
        memcpy(keys[i].key.data, name, keys[i].key.len);
        keys[i].key_hash = sl_hash_key_lc(keys[i].key.data, keys[i].key.len);
        keys[i].value = &keys[i];
    }

    ck_assert_int_eq(sl_hash_init(&h, keys, NRANDOM, pool), SL_OK);
    ck_assert_uint_eq(h.nelts, NRANDOM);

    /* bounded probes: the build keeps the longest one short */
    ck_assert_uint_le(h.max_probe, 16);
    ck_assert_uint_le(h.mask + 1, 16 * NRANDOM);

    for (i = 0; i < NRANDOM; i++) {
        sl_strlow(name, keys[i].key.data, keys[i].key.len);

        ck_assert_ptr_eq(sl_hash_find(&h, sl_hash_key(name, keys[i].key.len),
                                      name, keys[i].key.len), &keys[i]);

        /* the same name one byte longer is not there */
        name[keys[i].key.len] = '!';
        ck_assert_ptr_null(sl_hash_find(&h,
                               sl_hash_key(name, keys[i].key.len + 1),
                               name, keys[i].key.len + 1));
    }

    /* names with indexes past the end are absent */
    for (i = NRANDOM; i < 2 * NRANDOM; i++) {
        size_t  len = random_name(name, i, "abcdefghij.-_");

        ck_assert_ptr_null(sl_hash_find(&h, sl_hash_key(name, len), name,
                                        len));
    }
}
END_TEST


static sl_int_t
add(sl_hash_keys_t *ha, const char *key, void *value, sl_uint_t flags)
{
    sl_str_t  s;

    s.data = (u_char *) key;
    s.len = strlen(key);

    return sl_hash_add_key(ha, &s, value, flags);
}


static void *
lookup(sl_hash_combined_t *c, const char *name)
{
    u_char  lc[256];
    size_t  len;

    len = strlen(name);
    ck_assert_uint_lt(len, sizeof(lc));

    return sl_hash_find_combined(c, sl_hash_strlow(lc, (u_char *) name, len),
                                 lc, len);
}


#define W  SL_HASH_WILDCARD_KEY


START_TEST(test_combined_forms)
{
    sl_hash_keys_t      ha;
    sl_hash_combined_t  c;

    ck_assert_int_eq(sl_hash_keys_init(&ha, pool, pool), SL_OK);

    ck_assert_int_eq(add(&ha, "exact.net", &v[0], W), SL_OK);
    ck_assert_int_eq(add(&ha, "*.example.com", &v[1], W), SL_OK);
    ck_assert_int_eq(add(&ha, ".example.org", &v[2], W), SL_OK);
    ck_assert_int_eq(add(&ha, "www.example.*", &v[3], W), SL_OK);
    ck_assert_int_eq(add(&ha, "plain.io", &v[4], 0), SL_OK);

    ck_assert_int_eq(sl_hash_combined_init(&c, &ha, pool), SL_OK);

    /* exact */
    ck_assert_ptr_eq(lookup(&c, "exact.net"), &v[0]);
    ck_assert_ptr_eq(lookup(&c, "plain.io"), &v[4]);
    ck_assert_ptr_null(lookup(&c, "www.exact.net"));
    ck_assert_ptr_null(lookup(&c, "exact.ne"));

    /* "*.example.com": one label or more in front, not the name itself */
    ck_assert_ptr_eq(lookup(&c, "www.example.com"), &v[1]);
    ck_assert_ptr_eq(lookup(&c, "a.b.example.com"), &v[1]);
    ck_assert_ptr_eq(lookup(&c, "x.example.com"), &v[1]);
    ck_assert_ptr_null(lookup(&c, "example.com"));
    ck_assert_ptr_null(lookup(&c, ".example.com"));
    ck_assert_ptr_null(lookup(&c, "wwwexample.com"));
    ck_assert_ptr_eq(lookup(&c, "www.example.com.au"), &v[3]);

    /* ".example.org": the name itself and every subdomain */
    ck_assert_ptr_eq(lookup(&c, "example.org"), &v[2]);
    ck_assert_ptr_eq(lookup(&c, "www.example.org"), &v[2]);
    ck_assert_ptr_eq(lookup(&c, "a.b.c.example.org"), &v[2]);
    ck_assert_ptr_null(lookup(&c, "badexample.org"));
    ck_assert_ptr_null(lookup(&c, "xample.org"));

    /* "www.example.*": one label or more behind */
    ck_assert_ptr_eq(lookup(&c, "www.example.net"), &v[3]);
    ck_assert_ptr_eq(lookup(&c, "www.example.co.uk"), &v[3]);
    ck_assert_ptr_null(lookup(&c, "www.example"));
    ck_assert_ptr_null(lookup(&c, "www.example."));
    ck_assert_ptr_null(lookup(&c, "www.examples.net"));
    ck_assert_ptr_null(lookup(&c, "a.www.example.net"));

    /* "www.example.com" and ".org" are taken by the leading forms above */
    ck_assert_ptr_eq(lookup(&c, "www.example.com"), &v[1]);
    ck_assert_ptr_eq(lookup(&c, "www.example.org"), &v[2]);

    ck_assert_ptr_null(lookup(&c, ""));
    ck_assert_ptr_null(lookup(&c, "."));
    ck_assert_ptr_null(lookup(&c, "com"));
}
END_TEST


START_TEST(test_combined_precedence)
{
    sl_hash_keys_t      ha;
    sl_hash_combined_t  c;

    ck_assert_int_eq(sl_hash_keys_init(&ha, pool, pool), SL_OK);

    ck_assert_int_eq(add(&ha, "www.example.com", &v[0], W), SL_OK);
    ck_assert_int_eq(add(&ha, "*.example.com", &v[1], W), SL_OK);
    ck_assert_int_eq(add(&ha, "*.b.example.com", &v[2], W), SL_OK);
    ck_assert_int_eq(add(&ha, "*.com", &v[3], W), SL_OK);
    ck_assert_int_eq(add(&ha, "www.*", &v[4], W), SL_OK);
    ck_assert_int_eq(add(&ha, "www.example.*", &v[5], W), SL_OK);
    ck_assert_int_eq(add(&ha, "mail.*", &v[6], W), SL_OK);
    ck_assert_int_eq(add(&ha, ".test.org", &v[7], W), SL_OK);
    ck_assert_int_eq(add(&ha, "*.www.test.org", &v[8], W), SL_OK);

    ck_assert_int_eq(sl_hash_combined_init(&c, &ha, pool), SL_OK);

    /* exact beats every wildcard */
    ck_assert_ptr_eq(lookup(&c, "www.example.com"), &v[0]);

    /* the longest leading wildcard wins, whatever the order added */
    ck_assert_ptr_eq(lookup(&c, "a.b.example.com"), &v[2]);
    ck_assert_ptr_eq(lookup(&c, "x.y.b.example.com"), &v[2]);
    ck_assert_ptr_eq(lookup(&c, "b.example.com"), &v[1]);
    ck_assert_ptr_eq(lookup(&c, "mail.example.com"), &v[1]);
    ck_assert_ptr_eq(lookup(&c, "example.com"), &v[3]);
    ck_assert_ptr_eq(lookup(&c, "other.com"), &v[3]);
    ck_assert_ptr_eq(lookup(&c, "a.www.test.org"), &v[8]);
    ck_assert_ptr_eq(lookup(&c, "www.test.org"), &v[7]);
    ck_assert_ptr_eq(lookup(&c, "test.org"), &v[7]);

    /* a leading wildcard beats a trailing one */
    ck_assert_ptr_eq(lookup(&c, "mail.site.com"), &v[3]);
    ck_assert_ptr_eq(lookup(&c, "www.example.com"), &v[0]);

    /* the longest trailing wildcard wins */
    ck_assert_ptr_eq(lookup(&c, "www.example.net"), &v[5]);
    ck_assert_ptr_eq(lookup(&c, "www.example.co.uk"), &v[5]);
    ck_assert_ptr_eq(lookup(&c, "www.other.net"), &v[4]);
    ck_assert_ptr_eq(lookup(&c, "www.net"), &v[4]);
    ck_assert_ptr_eq(lookup(&c, "mail.site.net"), &v[6]);
    ck_assert_ptr_null(lookup(&c, "smtp.site.net"));
    ck_assert_ptr_null(lookup(&c, "www"));
}
END_TEST


START_TEST(test_combined_case)
{
    sl_hash_keys_t      ha;
    sl_hash_combined_t  c;

    ck_assert_int_eq(sl_hash_keys_init(&ha, pool, pool), SL_OK);

    ck_assert_int_eq(add(&ha, "Exact.EXAMPLE.com", &v[0], W), SL_OK);
    ck_assert_int_eq(add(&ha, "*.Wild.COM", &v[1], W), SL_OK);
    ck_assert_int_eq(add(&ha, ".Dot.Org", &v[2], W), SL_OK);
    ck_assert_int_eq(add(&ha, "WWW.Tail.*", &v[3], W), SL_OK);

    ck_assert_int_eq(sl_hash_combined_init(&c, &ha, pool), SL_OK);

    /* lookup() lower-cases the name as a caller must */
    ck_assert_ptr_eq(lookup(&c, "exact.example.com"), &v[0]);
    ck_assert_ptr_eq(lookup(&c, "EXACT.example.COM"), &v[0]);
    ck_assert_ptr_eq(lookup(&c, "A.wild.com"), &v[1]);
    ck_assert_ptr_eq(lookup(&c, "DOT.ORG"), &v[2]);
    ck_assert_ptr_eq(lookup(&c, "x.dot.org"), &v[2]);
    ck_assert_ptr_eq(lookup(&c, "www.TAIL.Net"), &v[3]);
}
END_TEST


START_TEST(test_combined_busy)
{
    sl_hash_keys_t      ha;
    sl_hash_combined_t  c;

    ck_assert_int_eq(sl_hash_keys_init(&ha, pool, pool), SL_OK);

    ck_assert_int_eq(add(&ha, "example.com", &v[0], W), SL_OK);
    ck_assert_int_eq(add(&ha, "example.com", &v[1], W), SL_BUSY);
    ck_assert_int_eq(add(&ha, "EXAMPLE.com", &v[1], 0), SL_BUSY);

    ck_assert_int_eq(add(&ha, "*.example.com", &v[2], W), SL_OK);
    ck_assert_int_eq(add(&ha, "*.Example.COM", &v[3], W), SL_BUSY);

    /* ".x" is "x" and "*.x" at once, so it clashes with either */
    ck_assert_int_eq(add(&ha, ".example.com", &v[4], W), SL_BUSY);

    ck_assert_int_eq(add(&ha, ".example.org", &v[5], W), SL_OK);
    ck_assert_int_eq(add(&ha, ".example.org", &v[6], W), SL_BUSY);
    ck_assert_int_eq(add(&ha, "example.org", &v[6], W), SL_BUSY);
    ck_assert_int_eq(add(&ha, "*.example.org", &v[6], W), SL_BUSY);

    ck_assert_int_eq(add(&ha, "*.example.net", &v[7], W), SL_OK);
    ck_assert_int_eq(add(&ha, ".example.net", &v[8], W), SL_BUSY);
    ck_assert_int_eq(add(&ha, "example.net", &v[8], W), SL_OK);

    ck_assert_int_eq(add(&ha, "www.example.*", &v[9], W), SL_OK);
    ck_assert_int_eq(add(&ha, "WWW.example.*", &v[10], W), SL_BUSY);

    /* the same text in another form is another key */
    ck_assert_int_eq(add(&ha, "www.example", &v[11], W), SL_OK);
    ck_assert_int_eq(add(&ha, "*.www.example", &v[12], W), SL_OK);

    ck_assert_int_eq(sl_hash_combined_init(&c, &ha, pool), SL_OK);

    /* the first value stayed */
    ck_assert_ptr_eq(lookup(&c, "example.com"), &v[0]);
    ck_assert_ptr_eq(lookup(&c, "a.example.com"), &v[2]);
    ck_assert_ptr_eq(lookup(&c, "example.org"), &v[5]);
    ck_assert_ptr_eq(lookup(&c, "a.example.org"), &v[5]);
    ck_assert_ptr_eq(lookup(&c, "example.net"), &v[8]);
    ck_assert_ptr_eq(lookup(&c, "a.example.net"), &v[7]);
    ck_assert_ptr_eq(lookup(&c, "www.example.io"), &v[9]);
    ck_assert_ptr_eq(lookup(&c, "www.example"), &v[11]);
    ck_assert_ptr_eq(lookup(&c, "a.www.example"), &v[12]);
}
END_TEST


/*
 * SL_HASH_LITERAL_KEY (map{} without "hostnames"): every name is exact,
 * as written and lower-cased, whatever '*' and '.' it holds.
 */
START_TEST(test_combined_literal)
{
    static const char  *names[] = {
        "*.example.com", ".example.org", "www.example.*", "a*b", "*", ".",
    };

    sl_hash_keys_t      ha;
    sl_hash_combined_t  c;
    size_t              i;

    ck_assert_int_eq(sl_hash_keys_init(&ha, pool, pool), SL_OK);

    for (i = 0; i < sl_nelems(names); i++) {
        ck_assert_msg(add(&ha, names[i], &v[i], SL_HASH_LITERAL_KEY) == SL_OK,
                      "\"%s\" as a literal", names[i]);
    }

    ck_assert_int_eq(add(&ha, "*.EXAMPLE.com", &v[9], SL_HASH_LITERAL_KEY),
                     SL_BUSY);
    ck_assert_int_eq(sl_hash_combined_init(&c, &ha, pool), SL_OK);

    for (i = 0; i < sl_nelems(names); i++) {
        ck_assert_ptr_eq(lookup(&c, names[i]), &v[i]);
    }

    /* none of them is a wildcard */
    ck_assert_ptr_null(lookup(&c, "www.example.com"));
    ck_assert_ptr_null(lookup(&c, "example.org"));
    ck_assert_ptr_null(lookup(&c, "mail.example.org"));
    ck_assert_ptr_null(lookup(&c, "www.example.net"));
    ck_assert_uint_eq(c.wc_head.nelts + c.wc_tail.nelts, 0);
}
END_TEST


START_TEST(test_combined_declined)
{
    static const char  *malformed[] = {
        "*", "**", "a*b", "**.x", "*x.com", "x.*.com", "*.", ".", "..x",
        "*..x", "x..*", ".*", "*.x.*", ".x.*", "www.*.*", "*.*", "x*",
        "*.x*", "x.*x", ".x*", "*.a*b.com",
    };

    static const char  *wildcards[] = {
        "*.example.com", ".example.com", "www.example.*",
    };

    sl_hash_keys_t      ha;
    sl_hash_combined_t  c;
    size_t              i;

    ck_assert_int_eq(sl_hash_keys_init(&ha, pool, pool), SL_OK);

    for (i = 0; i < sl_nelems(malformed); i++) {
        ck_assert_msg(add(&ha, malformed[i], &v[0], W) == SL_DECLINED,
                      "\"%s\" with the flag", malformed[i]);
        ck_assert_msg(add(&ha, malformed[i], &v[0], 0) == SL_DECLINED,
                      "\"%s\" without the flag", malformed[i]);
    }

    /* good wildcards need the flag; a refusal leaves no trace */
    for (i = 0; i < sl_nelems(wildcards); i++) {
        ck_assert_msg(add(&ha, wildcards[i], &v[1], 0) == SL_DECLINED,
                      "\"%s\" without the flag", wildcards[i]);
    }

    ck_assert_int_eq(add(&ha, "*.example.com", &v[2], W), SL_OK);
    ck_assert_int_eq(add(&ha, ".example.com", &v[3], W), SL_BUSY);
    ck_assert_int_eq(add(&ha, "www.example.*", &v[4], W), SL_OK);

    ck_assert_int_eq(sl_hash_combined_init(&c, &ha, pool), SL_OK);

    ck_assert_ptr_eq(lookup(&c, "a.example.com"), &v[2]);
    ck_assert_ptr_null(lookup(&c, "example.com"));
    ck_assert_ptr_eq(lookup(&c, "www.example.org"), &v[4]);
    ck_assert_ptr_null(lookup(&c, "x.y"));
}
END_TEST


/* thousands of names of every form, each found with its own value */
START_TEST(test_combined_random)
{
    static const char  *forms[] = {
        "%.*s.test", "*.%.*s.test", ".%.*s.test", "%.*s.*"
    };

    sl_hash_keys_t      ha;
    sl_hash_combined_t  c;
    u_char              key[140], name[140];
    size_t              i, len, *lens;
    u_char            **bases;
    uintptr_t           got;

    srand(777);

    bases = sl_palloc(pool, NRANDOM * sizeof(u_char *));
    lens = sl_palloc(pool, NRANDOM * sizeof(size_t));
    ck_assert(bases != NULL && lens != NULL);

    ck_assert_int_eq(sl_hash_keys_init(&ha, pool, pool), SL_OK);

    /*
     * Base i is "<random>-<i>"; the key added for it is, by i % 4,
     * "B.test", "*.B.test", ".B.test" or "B.*".
     */
    for (i = 0; i < NRANDOM; i++) {
        bases[i] = sl_pnalloc(pool, 64);
        ck_assert_ptr_nonnull(bases[i]);
        lens[i] = random_name(bases[i], i, "abcdefghijklmnopqrstuvwxyz");

        len = (size_t) sprintf((char *) key, forms[i % 4], (int) lens[i],
                               bases[i]);

        ck_assert_int_eq(sl_hash_add_key(&ha, &(sl_str_t) { len, key },
                                         (void *) (i + 1), W), SL_OK);
    }

    ck_assert_int_eq(sl_hash_combined_init(&c, &ha, pool), SL_OK);

    for (i = 0; i < NRANDOM; i++) {
        len = lens[i];

        sprintf((char *) name, "%.*s.test", (int) len, bases[i]);
        got = (uintptr_t) lookup(&c, (char *) name);
        ck_assert_uint_eq(got, (i % 4 == 1) ? 0 : i + 1);

        sprintf((char *) name, "sub.%.*s.test", (int) len, bases[i]);
        got = (uintptr_t) lookup(&c, (char *) name);
        ck_assert_uint_eq(got, (i % 4 == 1 || i % 4 == 2) ? i + 1 : 0);

        sprintf((char *) name, "%.*s.else.where", (int) len, bases[i]);
        got = (uintptr_t) lookup(&c, (char *) name);
        ck_assert_uint_eq(got, (i % 4 == 3) ? i + 1 : 0);

        sprintf((char *) name, "%.*s", (int) len, bases[i]);
        ck_assert_ptr_null(lookup(&c, (char *) name));

        /* a base never added, in every shape */
        len = random_name(key, i + NRANDOM, "abcdefghijklmnopqrstuvwxyz");

        sprintf((char *) name, "%.*s.test", (int) len, key);
        ck_assert_ptr_null(lookup(&c, (char *) name));
        sprintf((char *) name, "a.%.*s.test", (int) len, key);
        ck_assert_ptr_null(lookup(&c, (char *) name));
        sprintf((char *) name, "%.*s.com", (int) len, key);
        ck_assert_ptr_null(lookup(&c, (char *) name));
    }
}
END_TEST


static Suite *
hash_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("hash");

    tc = tcase_create("exact");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_hash_keys);
    tcase_add_test(tc, test_hash_exact);
    tcase_add_test(tc, test_hash_empty);
    tcase_add_test(tc, test_hash_random);
    suite_add_tcase(s, tc);

    tc = tcase_create("combined");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_combined_forms);
    tcase_add_test(tc, test_combined_precedence);
    tcase_add_test(tc, test_combined_case);
    tcase_add_test(tc, test_combined_busy);
    tcase_add_test(tc, test_combined_declined);
    tcase_add_test(tc, test_combined_literal);
    tcase_add_test(tc, test_combined_random);
    suite_add_tcase(s, tc);

    return s;
}


SL_TEST_MAIN(hash_suite)
