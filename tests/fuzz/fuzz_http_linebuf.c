/* fuzz_http_linebuf.c - libFuzzer target for http_linebuf_feed() (src/http.h): the line splitter
 * every Kubernetes watch stream goes through, fed the same stream in arbitrary chunks.
 *
 * Input layout: byte 0 picks the line limit (0: the default; else 1..255 bytes), byte 1 seeds
 * the chunk sizes (1..64 bytes, including empty chunks), the rest is the stream.
 *
 * Promise checked: whatever the chunking, the lines delivered are exactly those of a reference
 * split of the whole stream (on '\n', one trailing '\r' dropped, empty lines skipped), each
 * NUL-terminated at its length, and the feed fails with -EFBIG exactly when a line (or the
 * unterminated tail) is longer than the limit, after delivering the lines before it. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http.h"

struct expect {
    const char *stream;
    size_t stream_len;
    size_t pos;        /* where the next expected line starts in 'stream' */
    size_t delivered;
};

/* Moves 'e->pos' to the next non-empty line; gives its start and length, false at the end or
 * when only an unterminated tail is left. */
static bool next_line(struct expect *e, const char **line, size_t *len)
{
    while (e->pos < e->stream_len) {
        const char *p = e->stream + e->pos;
        const char *nl = memchr(p, '\n', e->stream_len - e->pos);
        size_t n;

        if (nl == NULL)
            return false;
        n = (size_t)(nl - p);
        e->pos += n + 1;
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n > 0) {
            *line = p;
            *len = n;
            return true;
        }
    }
    return false;
}

static void on_line(const char *line, size_t len, void *cb_data)
{
    struct expect *e = cb_data;
    const char *want;
    size_t want_len;

    FUZZ_CHECK(next_line(e, &want, &want_len));
    FUZZ_CHECK(len == want_len && memcmp(line, want, len) == 0);
    FUZZ_CHECK(line[len] == '\0');
    e->delivered++;
}

/* True when a raw line ('\r' included, as the splitter counts it) or the unterminated tail is
 * longer than 'max_line'. */
static bool too_long(const char *s, size_t n, size_t max_line)
{
    size_t run = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') {
            run = 0;
            continue;
        }
        if (++run > max_line)
            return true;
    }
    return false;
}

/* Number of non-empty complete lines before the first line longer than 'max_line'. */
static size_t lines_before_long(const char *s, size_t n, size_t max_line)
{
    size_t count = 0, start = 0;

    for (size_t i = 0; i < n; i++) {
        size_t raw;

        if (s[i] != '\n')
            continue;
        raw = i - start;
        if (raw > max_line)
            return count;
        if (raw - (raw > 0 && s[i - 1] == '\r') > 0)
            count++;
        start = i + 1;
    }
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_linebuf lb = {0};
    struct expect e;
    const char *stream;
    size_t len, off = 0;
    uint32_t seed;
    int rc = 0;
    bool want_fail;

    if (size < 2)
        return 0;
    lb.max_line = data[0];
    seed = data[1] * 2654435761u + 1;
    stream = (const char *)data + 2;
    len = size - 2;
    e = (struct expect){.stream = stream, .stream_len = len};

    while (off < len) {
        size_t chunk;

        seed = seed * 1103515245u + 12345u;
        chunk = (seed >> 16) % 65; /* 0..64: empty feeds happen too */
        if (chunk > len - off)
            chunk = len - off;
        rc = http_linebuf_feed(&lb, stream + off, chunk, on_line, &e);
        if (rc != 0)
            break;
        off += chunk;
    }

    want_fail = lb.max_line != 0 && too_long(stream, len, lb.max_line);
    FUZZ_CHECK(rc == 0 || rc == -EFBIG);
    FUZZ_CHECK((rc == -EFBIG) == want_fail);
    if (want_fail) {
        FUZZ_CHECK(e.delivered == lines_before_long(stream, len, lb.max_line));
        FUZZ_CHECK(lb.len == 0); /* "after a failure the buffer is emptied" */
    } else {
        const char *l;
        size_t n;

        FUZZ_CHECK(!next_line(&e, &l, &n)); /* every complete line was delivered */
    }
    http_linebuf_free(&lb);
    return 0;
}
