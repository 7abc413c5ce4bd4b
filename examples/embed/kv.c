/*
 * kv.c -- a protocol of the host's own: a tiny key-value store served by
 * a host handler (sl_stream_handler_t), on a plain listener and on a TLS
 * one, both chosen in the configuration with "handler kv;".
 *
 * It shows a handler's callbacks (open, data, close), its data pointer
 * (the store, shared by every session), a session's own pointer, the
 * session functions (write, shutdown, close, var) and a host log sink.
 *
 * The protocol, one command a line:
 *
 *     SET key value     OK                the value is the rest of the line
 *     GET key           VALUE value       or NOT_FOUND
 *     QUIT              BYE               then the server closes
 *     anything else     ERROR
 *
 * Memory is bounded: the store is a fixed table (a SET that finds no room
 * answers ERROR full), keys and values have a maximum length, and a line
 * longer than KV_LINE_MAX ends the session. sluice stops offering input
 * while answers wait to be sent, so a client that does not read cannot
 * make the server queue without end.
 *
 *     cc -std=c11 kv.c $(pkg-config --cflags --libs sluice) -o kv
 *     ./kv 127.0.0.1:7200 127.0.0.1:7201 server.crt server.key
 *     socat - TCP:127.0.0.1:7200
 *     socat - OPENSSL:127.0.0.1:7201,verify=0
 *
 * It prints "ready" once it listens, and exits 0 after SIGINT or SIGTERM.
 */
#define _POSIX_C_SOURCE 200809L

#include <sluice.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KV_SLOTS      64
#define KV_KEY_MAX    32
#define KV_VALUE_MAX  200
#define KV_LINE_MAX   256

typedef struct {
    char    key[KV_KEY_MAX + 1];        /* "" : a free slot */
    char    value[KV_VALUE_MAX + 1];
} kv_slot_t;

/* the handler's data: one store for every session on both listeners */
typedef struct {
    kv_slot_t   slots[KV_SLOTS];
} kv_store_t;

/* a session's own data */
typedef struct {
    char        addr[64];               /* $remote_addr, for the log */
    unsigned    commands;
    int         quit;
} kv_client_t;

static sl_instance_t *volatile  instance;

/* --- the store ----------------------------------------------------------- */

static kv_slot_t *
kv_find(kv_store_t *store, const char *key, int add)
{
    kv_slot_t  *free_slot = NULL;
    int         i;

    for (i = 0; i < KV_SLOTS; i++) {
        if (strcmp(store->slots[i].key, key) == 0) {
            return &store->slots[i];
        }
        if (free_slot == NULL && store->slots[i].key[0] == '\0') {
            free_slot = &store->slots[i];
        }
    }

    if (add && free_slot != NULL) {
        strcpy(free_slot->key, key);
        return free_slot;
    }

    return NULL;
}

/* --- one command --------------------------------------------------------- */

/*
 * One answer, one write. SL_AGAIN (the queue is at its high-water mark)
 * needs nothing here: sluice offers no more input, so no more commands
 * come, until the queue has drained.
 */
static void
kv_reply(sl_session_t *s, const char *answer, const char *value)
{
    char  line[KV_VALUE_MAX + 16];
    int   n;

    n = snprintf(line, sizeof(line), "%s%s\n", answer, value);
    sl_session_write(s, line, (size_t) n);
}

/* "SET key value": the key is one word, the value all the rest */
static void
kv_set(sl_session_t *s, kv_store_t *store, char *args)
{
    char       *value = strchr(args, ' ');
    kv_slot_t  *slot;

    if (value == NULL || value == args) {
        kv_reply(s, "ERROR", "");
        return;
    }

    *value++ = '\0';

    if (strlen(args) > KV_KEY_MAX || strlen(value) > KV_VALUE_MAX) {
        kv_reply(s, "ERROR too long", "");
        return;
    }

    slot = kv_find(store, args, 1);
    if (slot == NULL) {
        kv_reply(s, "ERROR full", "");
        return;
    }

    strcpy(slot->value, value);
    kv_reply(s, "OK", "");
}

static void
kv_get(sl_session_t *s, kv_store_t *store, const char *key)
{
    kv_slot_t  *slot = kv_find(store, key, 0);

    if (slot == NULL) {
        kv_reply(s, "NOT_FOUND", "");
        return;
    }

    kv_reply(s, "VALUE ", slot->value);
}

static void
kv_command(sl_session_t *s, kv_client_t *cl, char *line)
{
    kv_store_t  *store = sl_session_handler_data(s);

    cl->commands++;

    if (strncmp(line, "SET ", 4) == 0) {
        kv_set(s, store, line + 4);

    } else if (strncmp(line, "GET ", 4) == 0 && strchr(line + 4, ' ') == NULL
               && line[4] != '\0')
    {
        kv_get(s, store, line + 4);

    } else if (strcmp(line, "QUIT") == 0) {
        /* the answers queued so far go out first, then a FIN */
        kv_reply(s, "BYE", "");
        sl_session_shutdown(s);
        cl->quit = 1;

    } else {
        kv_reply(s, "ERROR", "");
    }
}

/* --- the handler --------------------------------------------------------- */

static int
kv_open(sl_session_t *s)
{
    kv_client_t  *cl = calloc(1, sizeof(kv_client_t));
    const char   *v;
    size_t        len;

    if (cl == NULL) {
        return SL_ERROR;
    }

    if (sl_session_var(s, "remote_addr", &v, &len) == SL_OK) {
        snprintf(cl->addr, sizeof(cl->addr), "%.*s", (int) len, v);
    }

    sl_session_set_data(s, cl);

    /* $ssl_protocol: "TLSv1.3"..., empty on the plain listener */
    if (sl_session_var(s, "ssl_protocol", &v, &len) != SL_OK || len == 0) {
        v = "plain";
        len = 5;
    }
    fprintf(stderr, "kv: %s connected (%.*s)\n", cl->addr, (int) len, v);
    return SL_OK;
}

/* one line at a time: sluice calls again while input remains */
static long
kv_data(sl_session_t *s, const char *p, size_t n)
{
    kv_client_t  *cl = sl_session_get_data(s);
    char          line[KV_LINE_MAX + 1];
    const char   *nl;
    size_t        len;

    if (cl->quit) {
        return (long) n;            /* after QUIT: read and dropped */
    }

    nl = memchr(p, '\n', n);
    if (nl == NULL) {
        if (n > KV_LINE_MAX) {
            sl_session_close(s, 400);   /* no line ends here: a bad client */
        }
        return 0;                   /* wait for the rest of the line */
    }

    len = (size_t) (nl - p);
    if (len > KV_LINE_MAX) {
        sl_session_close(s, 400);
        return 0;
    }

    if (len > 0 && p[len - 1] == '\r') {
        len--;
    }

    memcpy(line, p, len);
    line[len] = '\0';
    kv_command(s, cl, line);
    return (long) (nl - p) + 1;
}

static void
kv_close(sl_session_t *s, int status)
{
    kv_client_t  *cl = sl_session_get_data(s);

    if (cl == NULL) {
        return;                     /* kv_open failed: nothing to free */
    }

    fprintf(stderr, "kv: %s closed after %u commands, status %d\n",
            cl->addr, cl->commands, status);
    free(cl);
}

static const sl_stream_handler_t  kv_handler = {
    .size = sizeof(sl_stream_handler_t),
    .open = kv_open,
    .data = kv_data,
    .close = kv_close,
};

/* --- the host ------------------------------------------------------------ */

/* the instance's log, one line each on stderr */
static void
kv_log(void *data, int level, const char *msg, size_t len)
{
    static const char  *names[] = { "?", "emerg", "alert", "crit", "error",
                                    "warn", "notice", "info", "debug" };

    (void) data;
    if (level < SL_LOG_EMERG || level > SL_LOG_DEBUG) {
        level = 0;
    }
    fprintf(stderr, "kv: sluice [%s] %.*s\n", names[level], (int) len, msg);
}

static void
on_signal(int signo)
{
    (void) signo;
    sl_instance_stop(instance, SL_STOP_GRACEFUL);
}

int
main(int argc, char **argv)
{
    static kv_store_t    store;
    char                 config[2048], err[256];
    sl_handler_reg_t     handlers[] = {
        { .name = "kv", .handler = &kv_handler, .data = &store },
        { .name = NULL }
    };
    sl_instance_conf_t   conf = { .size = sizeof(conf) };
    struct sigaction     sa = { .sa_handler = on_signal };
    sl_instance_t       *in;
    int                  rc;

    if (argc != 5) {
        fprintf(stderr, "usage: kv LISTEN TLS-LISTEN CERT KEY\n");
        return 2;
    }

    snprintf(config, sizeof(config),
             "stream {\n"
             "    server { listen %s; handler kv; }\n"
             "    server {\n"
             "        listen %s ssl;\n"
             "        ssl_certificate %s;\n"
             "        ssl_certificate_key %s;\n"
             "        handler kv;\n"
             "    }\n"
             "}\n", argv[1], argv[2], argv[3], argv[4]);

    conf.conf_string = config;
    conf.handlers = handlers;
    conf.log = kv_log;

    if (sl_instance_create(&conf, &in, err, sizeof(err)) != SL_OK) {
        fprintf(stderr, "kv: %s\n", err);
        return 1;
    }

    instance = in;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("ready\n");
    fflush(stdout);

    rc = sl_instance_run(in);       /* until a signal stops it */
    sl_instance_destroy(in);
    return rc == SL_DONE ? 0 : 1;
}
