/* kube/yaml.c - the kubeconfig YAML subset (see yaml.h for what is in and out).
 *
 * Two passes: split the text into logical lines (indent, content, line number; blank and
 * comment-only lines dropped), then a recursive descent over those lines where a node's extent
 * is given by indentation. A sequence item "- key: v" is parsed by shifting that line's
 * indentation past the "- ", so the item's later keys (indented to the same column) continue the
 * same mapping; this also covers kubectl's habit of writing a sequence at its key's indentation.
 *
 * Invariant: parse_node/parse_map/parse_seq consume exactly the lines of their node and leave
 * 'p->i' on the first line that does not belong to it. */
#include "kube/yaml.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define YAML_MAX_DEPTH 32

struct line {
    int indent;
    char *text; /* points into the parser's copy; trailing spaces removed */
    int lineno;
};

struct parser {
    char *copy;
    struct line *lines;
    int n, i;
    struct err *err;
};

static int fail(struct parser *p, int lineno, int code, const char *what)
{
    return err_set(p->err, code, "kubeconfig yaml line %d: %s", lineno, what);
}

/* ---- pass 1: lines ---------------------------------------------------------------------------- */

static int split_lines(struct parser *p, size_t len)
{
    int cap = 64, lineno = 0;
    char *s = p->copy;
    bool seen_doc_start = false, seen_content = false;

    p->lines = malloc(sizeof(*p->lines) * (size_t)cap);
    if (p->lines == NULL)
        return err_set(p->err, -ENOMEM, "cannot allocate yaml lines");
    while (s < p->copy + len) {
        char *nl = strchr(s, '\n');
        char *end = nl != NULL ? nl : p->copy + len;
        int indent = 0;

        lineno++;
        *end = '\0';
        if (end > s && end[-1] == '\r')
            end[-1] = '\0';
        while (s[indent] == ' ')
            indent++;
        if (s[indent] == '\t')
            return fail(p, lineno, -ENOTSUP, "tab in indentation");
        /* Trim trailing blanks; drop blank and comment-only lines. */
        for (char *t = s + strlen(s); t > s && (t[-1] == ' ' || t[-1] == '\t'); t--)
            t[-1] = '\0';
        if (s[indent] != '\0' && s[indent] != '#') {
            if (indent == 0 && strcmp(s, "---") == 0) {
                if (seen_doc_start || seen_content)
                    return fail(p, lineno, -ENOTSUP, "several documents in one file");
                seen_doc_start = true;
            } else if (indent == 0 && strcmp(s, "...") == 0) {
                break;
            } else if (indent == 0 && s[0] == '%') {
                return fail(p, lineno, -ENOTSUP, "yaml directives are not supported");
            } else {
                if (p->n == cap) {
                    struct line *grown = realloc(p->lines, sizeof(*p->lines) * (size_t)cap * 2);

                    if (grown == NULL)
                        return err_set(p->err, -ENOMEM, "cannot allocate yaml lines");
                    p->lines = grown;
                    cap *= 2;
                }
                p->lines[p->n++] = (struct line){indent, s + indent, lineno};
                seen_content = true;
            }
        }
        s = end + 1;
    }
    return 0;
}

/* ---- scalars ---------------------------------------------------------------------------------- */

static int utf8_put(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

/* Parses a quoted scalar starting at 's' (on the quote). On success '*end' points after the
 * closing quote and '*out' is a new JSON string. */
static int parse_quoted(struct parser *p, int lineno, const char *s, const char **end, json_t **out)
{
    char quote = *s++;
    size_t cap = strlen(s) + 1;
    char *buf = malloc(cap);
    size_t n = 0;

    if (buf == NULL)
        return err_set(p->err, -ENOMEM, "cannot allocate yaml scalar");
    for (;;) {
        if (*s == '\0') {
            free(buf);
            return fail(p, lineno, -ENOTSUP, "unterminated or multi-line quoted scalar");
        }
        if (*s == quote) {
            if (quote == '\'' && s[1] == '\'') { /* '' is a literal ' */
                buf[n++] = '\'';
                s += 2;
                continue;
            }
            s++;
            break;
        }
        if (quote == '"' && *s == '\\') {
            char c = s[1];
            unsigned cp;

            s += 2;
            switch (c) {
            case '\\': buf[n++] = '\\'; break;
            case '"': buf[n++] = '"'; break;
            case '/': buf[n++] = '/'; break;
            case 'n': buf[n++] = '\n'; break;
            case 't': buf[n++] = '\t'; break;
            case 'r': buf[n++] = '\r'; break;
            case 'u':
                if (sscanf(s, "%4x", &cp) != 1 || strlen(s) < 4 || cp == 0) {
                    free(buf);
                    return fail(p, lineno, -EINVAL, "bad \\u escape");
                }
                n += (size_t)utf8_put(buf + n, cp);
                s += 4;
                break;
            default:
                free(buf);
                return fail(p, lineno, -ENOTSUP, "unsupported escape in double-quoted scalar");
            }
            continue;
        }
        buf[n++] = *s++;
    }
    *end = s;
    *out = json_stringn(buf, n);
    free(buf);
    return *out != NULL ? 0 : fail(p, lineno, -EINVAL, "quoted scalar is not valid UTF-8");
}

/* A plain scalar runs to the end of the line or to " #" (a comment). */
static json_t *plain_scalar(const char *s)
{
    const char *hash = strstr(s, " #");
    size_t len = hash != NULL ? (size_t)(hash - s) : strlen(s);

    while (len > 0 && s[len - 1] == ' ')
        len--;
    if (len == 0 || (len == 1 && s[0] == '~') || (len == 4 && strncmp(s, "null", 4) == 0))
        return json_null();
    return json_stringn(s, len);
}

static bool only_comment_left(const char *s)
{
    while (*s == ' ')
        s++;
    return *s == '\0' || *s == '#';
}

/* Flow sequence of scalars: [a, "b", 'c']; or the empty {} / []. */
static int parse_flow(struct parser *p, int lineno, const char *s, json_t **out)
{
    json_t *arr;

    if (s[0] == '{') {
        if (s[1] == '}' && only_comment_left(s + 2)) {
            *out = json_object();
            return 0;
        }
        return fail(p, lineno, -ENOTSUP, "non-empty flow mappings are not supported");
    }
    arr = json_array();
    s++;
    for (;;) {
        json_t *item = NULL;
        const char *end;

        while (*s == ' ')
            s++;
        if (*s == ']' && json_array_size(arr) == 0)
            break;
        if (*s == '"' || *s == '\'') {
            if (parse_quoted(p, lineno, s, &end, &item) != 0) {
                json_decref(arr);
                return p->err != NULL ? p->err->code : -EINVAL;
            }
            s = end;
        } else {
            end = s + strcspn(s, ",]");
            if (*end == '\0' || strchr("[{&*!|>", *s) != NULL) {
                json_decref(arr);
                return fail(p, lineno, -ENOTSUP, "unsupported flow sequence");
            }
            while (end > s && end[-1] == ' ')
                end--;
            item = json_stringn(s, (size_t)(end - s));
            s = end;
            if (item == NULL) {
                json_decref(arr);
                return fail(p, lineno, -EINVAL, "flow sequence item is not valid UTF-8");
            }
        }
        json_array_append_new(arr, item);
        while (*s == ' ')
            s++;
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s == ']')
            break;
        json_decref(arr);
        return fail(p, lineno, -ENOTSUP, "unterminated or multi-line flow sequence");
    }
    if (!only_comment_left(s + 1)) {
        json_decref(arr);
        return fail(p, lineno, -ENOTSUP, "text after flow sequence");
    }
    *out = arr;
    return 0;
}

/* The value written on the same line as its key or dash. */
static int parse_inline(struct parser *p, int lineno, const char *s, json_t **out)
{
    const char *end;

    switch (s[0]) {
    case '&':
    case '*':
        return fail(p, lineno, -ENOTSUP, "anchors and aliases are not supported");
    case '!':
        return fail(p, lineno, -ENOTSUP, "tags are not supported");
    case '|':
    case '>':
        return fail(p, lineno, -ENOTSUP, "block scalars (| and >) are not supported");
    case '[':
    case '{':
        return parse_flow(p, lineno, s, out);
    case '"':
    case '\'':
        if (parse_quoted(p, lineno, s, &end, out) != 0)
            return p->err != NULL ? p->err->code : -EINVAL;
        if (!only_comment_left(end)) {
            json_decref(*out);
            return fail(p, lineno, -ENOTSUP, "text after quoted scalar");
        }
        return 0;
    default:
        /* json_stringn() refuses text that is not UTF-8: say so rather than lose the value. */
        *out = plain_scalar(s);
        return *out != NULL ? 0 : fail(p, lineno, -EINVAL, "plain scalar is not valid UTF-8");
    }
}

/* ---- pass 2: structure ----------------------------------------------------------------------- */

static int parse_node(struct parser *p, int indent, int depth, json_t **out);

static bool is_seq_item(const struct line *l)
{
    return l->text[0] == '-' && (l->text[1] == ' ' || l->text[1] == '\0');
}

/* Finds "key:" at the start of 'text'; sets '*key' (new) and '*rest' (after ": "). False if
 * the line is not a mapping entry. */
static int split_key(struct parser *p, const struct line *l, json_t **key, const char **rest)
{
    const char *s = l->text;
    const char *colon;

    if (*s == '"' || *s == '\'') {
        const char *end;

        if (parse_quoted(p, l->lineno, s, &end, key) != 0)
            return p->err != NULL ? p->err->code : -EINVAL;
        while (*end == ' ')
            end++;
        if (*end != ':' || (end[1] != ' ' && end[1] != '\0')) {
            json_decref(*key);
            return fail(p, l->lineno, -EINVAL, "expected ':' after quoted key");
        }
        *rest = end + 1;
    } else {
        for (colon = s; (colon = strchr(colon, ':')) != NULL; colon++) {
            if (colon[1] == ' ' || colon[1] == '\0')
                break;
        }
        if (colon == NULL || colon == s)
            return fail(p, l->lineno, -ENOTSUP, "expected 'key: value'");
        if (strchr("&*!?|>[{", s[0]) != NULL)
            return fail(p, l->lineno, -ENOTSUP, "complex keys, anchors and tags are not supported");
        {
            size_t klen = (size_t)(colon - s);

            while (klen > 0 && s[klen - 1] == ' ')
                klen--;
            *key = json_stringn(s, klen);
            if (*key == NULL)
                return fail(p, l->lineno, -EINVAL, "key is not valid UTF-8");
        }
        *rest = colon + 1;
    }
    while (**rest == ' ')
        (*rest)++;
    return 0;
}

/* The value of a key whose line ended at the colon: a nested block, a sequence at the key's own
 * indentation (kubectl style), or null. */
static int parse_block_value(struct parser *p, int indent, int depth, json_t **out)
{
    if (p->i < p->n && p->lines[p->i].indent > indent)
        return parse_node(p, p->lines[p->i].indent, depth + 1, out);
    if (p->i < p->n && p->lines[p->i].indent == indent && is_seq_item(&p->lines[p->i]))
        return parse_node(p, indent, depth + 1, out);
    *out = json_null();
    return 0;
}

static int parse_map(struct parser *p, int indent, int depth, json_t **out)
{
    json_t *map = json_object();
    int rc = 0;

    while (rc == 0 && p->i < p->n && p->lines[p->i].indent == indent &&
           !is_seq_item(&p->lines[p->i])) {
        const struct line *l = &p->lines[p->i];
        json_t *key = NULL, *value = NULL;
        const char *rest;

        rc = split_key(p, l, &key, &rest);
        if (rc != 0)
            break;
        p->i++;
        if (only_comment_left(rest)) {
            rc = parse_block_value(p, indent, depth, &value);
        } else {
            rc = parse_inline(p, l->lineno, rest, &value);
            if (rc == 0 && p->i < p->n && p->lines[p->i].indent > indent) {
                json_decref(value);
                rc = fail(p, p->lines[p->i].lineno, -ENOTSUP,
                          "unexpected indentation (multi-line plain scalars are not supported)");
            }
        }
        if (rc == 0)
            json_object_set_new(map, json_string_value(key), value);
        json_decref(key);
    }
    if (rc == 0 && p->i < p->n && p->lines[p->i].indent > indent)
        rc = fail(p, p->lines[p->i].lineno, -EINVAL, "bad indentation");
    if (rc != 0) {
        json_decref(map);
        return rc;
    }
    *out = map;
    return 0;
}

static int parse_seq(struct parser *p, int indent, int depth, json_t **out)
{
    json_t *seq = json_array();
    int rc = 0;

    while (rc == 0 && p->i < p->n && p->lines[p->i].indent == indent &&
           is_seq_item(&p->lines[p->i])) {
        struct line *l = &p->lines[p->i];
        json_t *item = NULL;
        int shift = 1;

        while (l->text[shift] == ' ')
            shift++;
        if (l->text[shift] == '\0' || l->text[shift] == '#') {
            p->i++;
            rc = parse_block_value(p, indent, depth, &item);
            /* A bare "-" followed by lines at the same indent is an empty item, not a parent. */
        } else {
            /* Re-read this line as if the item's content started a block at its column. */
            l->indent += shift;
            l->text += shift;
            rc = parse_node(p, l->indent, depth + 1, &item);
        }
        if (rc == 0)
            json_array_append_new(seq, item);
    }
    if (rc != 0) {
        json_decref(seq);
        return rc;
    }
    *out = seq;
    return 0;
}

static int parse_node(struct parser *p, int indent, int depth, json_t **out)
{
    const struct line *l;
    const char *rest;
    json_t *key = NULL;

    if (depth > YAML_MAX_DEPTH)
        return fail(p, p->lines[p->i].lineno, -ENOTSUP, "nesting too deep");
    l = &p->lines[p->i];
    if (is_seq_item(l))
        return parse_seq(p, indent, depth, out);

    /* A mapping if the line is "key: ..."; otherwise a lone scalar (e.g. a sequence item). */
    if (l->text[0] != '"' && l->text[0] != '\'' && strchr("[{&*!|>", l->text[0]) == NULL) {
        const char *colon;

        for (colon = l->text; (colon = strchr(colon, ':')) != NULL; colon++) {
            if (colon[1] == ' ' || colon[1] == '\0')
                return parse_map(p, indent, depth, out);
        }
    } else if (l->text[0] == '"' || l->text[0] == '\'') {
        struct err *saved = p->err;
        struct err scratch;

        /* A quoted key ("a b": v) makes a mapping too; probe without reporting. */
        p->err = &scratch;
        if (split_key(p, l, &key, &rest) == 0) {
            json_decref(key);
            p->err = saved;
            return parse_map(p, indent, depth, out);
        }
        p->err = saved;
    }
    p->i++;
    if (p->i < p->n && p->lines[p->i].indent > indent)
        return fail(p, p->lines[p->i].lineno, -ENOTSUP,
                    "unexpected indentation (multi-line plain scalars are not supported)");
    return parse_inline(p, l->lineno, l->text, out);
}

int kube_yaml_parse(const char *text, size_t len, json_t **out, struct err *err)
{
    struct parser p = {.err = err};
    int rc;

    *out = NULL;
    p.copy = malloc(len + 1);
    if (p.copy == NULL)
        return err_set(err, -ENOMEM, "cannot allocate yaml copy");
    memcpy(p.copy, text, len);
    p.copy[len] = '\0';
    if (memchr(text, '\0', len) != NULL) {
        rc = err_set(err, -EINVAL, "kubeconfig yaml contains a NUL byte");
        goto out;
    }
    rc = split_lines(&p, len);
    if (rc != 0)
        goto out;
    if (p.n == 0) {
        *out = json_object();
        goto out;
    }
    if (p.lines[0].indent != 0) {
        rc = fail(&p, p.lines[0].lineno, -EINVAL, "document does not start at column 1");
        goto out;
    }
    rc = parse_node(&p, 0, 0, out);
    if (rc == 0 && p.i < p.n) {
        json_decref(*out);
        *out = NULL;
        rc = fail(&p, p.lines[p.i].lineno, -EINVAL, "unexpected content after the document");
    }
out:
    free(p.lines);
    free(p.copy);
    return rc;
}
