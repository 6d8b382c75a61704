/* dns_answer: DNS response bytes -> the records of the question's type on its
 * CNAME chain, with TTLs and the reasons anything else was left out. Every
 * read is bounds-checked against the message; compression pointers must
 * point backwards (so they cannot loop) and a name is at most 255 wire
 * bytes. See dns_answer.h. */
#include "dns_answer.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_LEN 12
#define FLAG_TC 0x0200
#define FLAG_AA 0x0400
#define FLAG_QR 0x8000
#define CLASS_IN 1
#define MAX_POINTER_JUMPS 128
#define WIRE_NAME_MAX 255

typedef struct reader {
    const unsigned char *buf;
    size_t len;
} reader;

static unsigned get16(const unsigned char *p)
{
    return ((unsigned)p[0] << 8) | p[1];
}

static uint32_t get32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Appends one label byte in presentation form: [a-z0-9_-] as is (upper case
 * folded), everything else as \DDD. */
static int put_label_byte(char *out, size_t outlen, size_t *o, unsigned char b)
{
    if (b >= 'A' && b <= 'Z') b = (unsigned char)(b - 'A' + 'a');
    bool plain = (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' || b == '_';
    size_t need = plain ? 1 : 4;
    if (*o + need >= outlen) return -1;
    if (plain) {
        out[(*o)++] = (char)b;
    } else {
        snprintf(out + *o, 5, "\\%03u", b);
        *o += 4;
    }
    return 0;
}

/* Reads the (possibly compressed) name at *off into out; *off moves past the
 * name as it is written at *off. The root name is "". */
static int read_name(const reader *rd, size_t *off, char *out, size_t outlen)
{
    size_t pos = *off, after = 0, wire = 0, o = 0;
    bool jumped = false;
    int jumps = 0;
    for (;;) {
        if (pos >= rd->len) return -1;
        unsigned c = rd->buf[pos];
        if ((c & 0xC0) == 0xC0) {
            if (pos + 1 >= rd->len) return -1;
            size_t ptr = ((size_t)(c & 0x3F) << 8) | rd->buf[pos + 1];
            if (ptr >= pos || ++jumps > MAX_POINTER_JUMPS) return -1;
            if (!jumped) after = pos + 2;
            jumped = true;
            pos = ptr;
            continue;
        }
        if ((c & 0xC0) != 0) return -1; /* extended label types: not used in answers */
        if (c == 0) {
            pos++;
            break;
        }
        wire += c + 1;
        if (wire + 1 > WIRE_NAME_MAX || pos + 1 + c > rd->len) return -1;
        if (o > 0) {
            if (o + 1 >= outlen) return -1;
            out[o++] = '.';
        }
        for (unsigned k = 0; k < c; k++)
            if (put_label_byte(out, outlen, &o, rd->buf[pos + 1 + k]) != 0) return -1;
        pos += 1 + c;
    }
    out[o] = '\0';
    *off = jumped ? after : pos;
    return 0;
}

/* ---- growing arrays ---- */

static int push_record(dns_record **arr, size_t *n, const dns_record *rec)
{
    dns_record *grown = realloc(*arr, (*n + 1) * sizeof *grown);
    if (grown == NULL) return -1;
    *arr = grown;
    grown[(*n)++] = *rec;
    return 0;
}

static void record_free(dns_record *r)
{
    free(r->owner);
    free(r->data);
}

static void reject(dns_answer *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reject(dns_answer *a, const char *fmt, ...)
{
    if (a->n_rejected >= DNS_MAX_REJECTED) return;
    char line[512];
    if (a->n_rejected == DNS_MAX_REJECTED - 1) {
        snprintf(line, sizeof line, "(further ignored records not listed)");
    } else {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
    }
    char **grown = realloc(a->rejected, (a->n_rejected + 1) * sizeof *grown);
    if (grown == NULL) return;
    a->rejected = grown;
    char *copy = strdup(line);
    if (copy != NULL) a->rejected[a->n_rejected++] = copy;
}

static void note_ttl(dns_answer *a, uint32_t ttl)
{
    if (!a->has_ttl || ttl < a->min_ttl) a->min_ttl = ttl;
    a->has_ttl = true;
}

/* ---- one resource record ---- */

typedef struct raw_rr {
    char owner[DNS_NAME_TEXT_MAX];
    uint16_t type, class_;
    uint32_t ttl;
    size_t rdata, rdlen; /* offset and length of RDATA */
} raw_rr;

static int read_rr_header(const reader *rd, size_t *off, raw_rr *rr)
{
    if (read_name(rd, off, rr->owner, sizeof rr->owner) != 0) return -1;
    if (*off + 10 > rd->len) return -1;
    const unsigned char *p = rd->buf + *off;
    rr->type = (uint16_t)get16(p);
    rr->class_ = (uint16_t)get16(p + 2);
    rr->ttl = get32(p + 4);
    if (rr->ttl > 0x7fffffffu) rr->ttl = 0; /* RFC 2181 §8 */
    rr->rdlen = get16(p + 8);
    rr->rdata = *off + 10;
    if (rr->rdata + rr->rdlen > rd->len) return -1;
    *off = rr->rdata + rr->rdlen;
    return 0;
}

/* Decodes the data of an A, AAAA, SRV or CNAME into rec; -1 with a reason
 * when it is malformed (the record is then skipped, not the message). */
static int decode_rdata(const reader *rd, const raw_rr *rr, dns_record *rec, char *why,
                        size_t whylen)
{
    char text[DNS_NAME_TEXT_MAX];
    const unsigned char *p = rd->buf + rr->rdata;
    memset(rec, 0, sizeof *rec);
    rec->type = rr->type;
    rec->ttl = rr->ttl;
    switch (rr->type) {
    case DNS_TYPE_A:
    case DNS_TYPE_AAAA: {
        size_t want = rr->type == DNS_TYPE_A ? 4 : 16;
        if (rr->rdlen != want) {
            snprintf(why, whylen, "%zu bytes of address data, not %zu", rr->rdlen, want);
            return -1;
        }
        if (inet_ntop(rr->type == DNS_TYPE_A ? AF_INET : AF_INET6, p, text, sizeof text) == NULL) {
            snprintf(why, whylen, "address does not print");
            return -1;
        }
        break;
    }
    case DNS_TYPE_SRV:
    case DNS_TYPE_CNAME: {
        size_t off = rr->rdata;
        if (rr->type == DNS_TYPE_SRV) {
            if (rr->rdlen < 7) {
                snprintf(why, whylen, "SRV data of %zu bytes", rr->rdlen);
                return -1;
            }
            rec->priority = (uint16_t)get16(p);
            rec->weight = (uint16_t)get16(p + 2);
            rec->port = (uint16_t)get16(p + 4);
            off += 6;
        }
        /* The target may point back into the message, but must itself end
         * where the record's data ends. */
        reader sub = {.buf = rd->buf, .len = rr->rdata + rr->rdlen};
        if (read_name(&sub, &off, text, sizeof text) != 0 || off != rr->rdata + rr->rdlen) {
            snprintf(why, whylen, "malformed target name");
            return -1;
        }
        break;
    }
    default:
        snprintf(why, whylen, "type not used");
        return -1;
    }
    rec->data = strdup(text);
    rec->owner = strdup(rr->owner);
    if (rec->data == NULL || rec->owner == NULL) {
        record_free(rec);
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    return 0;
}

/* The SOA of a negative answer gives its TTL: min(SOA TTL, MINIMUM). Best
 * effort: an unreadable authority section only loses this hint. */
static void read_negative_ttl(const reader *rd, size_t off, unsigned nscount, dns_answer *a)
{
    for (unsigned k = 0; k < nscount; k++) {
        raw_rr rr;
        if (read_rr_header(rd, &off, &rr) != 0) return;
        if (rr.type != DNS_TYPE_SOA) continue;
        size_t p = rr.rdata;
        char name[DNS_NAME_TEXT_MAX];
        reader sub = {.buf = rd->buf, .len = rr.rdata + rr.rdlen};
        if (read_name(&sub, &p, name, sizeof name) != 0 ||
            read_name(&sub, &p, name, sizeof name) != 0 || p + 20 != rr.rdata + rr.rdlen)
            return;
        uint32_t minimum = get32(rd->buf + p + 16);
        a->negative_ttl = minimum < rr.ttl ? minimum : rr.ttl;
        a->has_negative_ttl = true;
        return;
    }
}

/* ---- the chain ---- */

/* Follows CNAMEs from qname through cnames[]; marks the ones used. */
static int follow_chain(dns_answer *a, dns_record *cnames, size_t n_cnames, bool *used, char *err,
                        size_t errlen)
{
    const char *cur = a->qname;
    for (;;) {
        size_t hit = n_cnames;
        for (size_t k = 0; k < n_cnames; k++) {
            if (strcmp(cnames[k].owner, cur) != 0) continue;
            if (hit == n_cnames) {
                hit = k;
            } else if (!used[k]) {
                used[k] = true;
                reject(a, "CNAME %s -> %s: a second CNAME for the same name", cnames[k].owner,
                       cnames[k].data);
            }
        }
        if (hit == n_cnames) break;
        if (used[hit]) {
            snprintf(err, errlen, "CNAME loop at %s", cur);
            return -1;
        }
        if (a->n_chain >= DNS_MAX_CNAME_CHAIN) {
            snprintf(err, errlen, "CNAME chain longer than %d", DNS_MAX_CNAME_CHAIN);
            return -1;
        }
        used[hit] = true;
        dns_record copy = cnames[hit];
        copy.owner = strdup(copy.owner);
        copy.data = strdup(copy.data);
        if (copy.owner == NULL || copy.data == NULL || push_record(&a->chain, &a->n_chain, &copy)) {
            record_free(&copy);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        note_ttl(a, copy.ttl);
        cur = copy.data;
    }
    a->final_name = strdup(cur);
    if (a->final_name == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* ---- the message ---- */

/* Parses a response; see dns_answer.h. */
int dns_answer_parse(const unsigned char *buf, size_t len, uint16_t qtype, dns_answer *out,
                     char *err, size_t errlen)
{
    reader rd = {.buf = buf, .len = len};
    dns_answer a;
    memset(&a, 0, sizeof a);
    memset(out, 0, sizeof *out);
    dns_record *candidates = NULL, *cnames = NULL;
    size_t n_candidates = 0, n_cnames = 0;
    bool *used = NULL;
    char tname[16];

    if (buf == NULL || len < HEADER_LEN) {
        snprintf(err, errlen, "message of %zu bytes is shorter than a DNS header", len);
        return -1;
    }
    unsigned flags = get16(buf + 2), qdcount = get16(buf + 4), ancount = get16(buf + 6),
             nscount = get16(buf + 8);
    if ((flags & FLAG_QR) == 0) {
        snprintf(err, errlen, "message is a query, not a response");
        return -1;
    }
    a.rcode = (int)(flags & 0x000F);
    a.truncated = (flags & FLAG_TC) != 0;
    a.authoritative = (flags & FLAG_AA) != 0;
    if (qdcount != 1) {
        snprintf(err, errlen, "response has %u questions, not 1", qdcount);
        return -1;
    }
    size_t off = HEADER_LEN;
    char qname[DNS_NAME_TEXT_MAX];
    if (read_name(&rd, &off, qname, sizeof qname) != 0 || off + 4 > len) {
        snprintf(err, errlen, "malformed question");
        return -1;
    }
    a.qtype = (uint16_t)get16(buf + off);
    off += 4;
    if (a.qtype != qtype) {
        char want[16];
        snprintf(err, errlen, "response is for type %s, not %s",
                 dns_type_name(a.qtype, tname, sizeof tname),
                 dns_type_name(qtype, want, sizeof want));
        return -1;
    }
    a.qname = strdup(qname);
    if (a.qname == NULL) goto nomem;
    if (a.truncated) {
        /* The rest may stop anywhere: nothing in it is trusted. */
        a.final_name = strdup(qname);
        if (a.final_name == NULL) goto nomem;
        *out = a;
        return 0;
    }

    for (unsigned k = 0; k < ancount; k++) {
        raw_rr rr;
        if (read_rr_header(&rd, &off, &rr) != 0) {
            snprintf(err, errlen, "answer record %u of %u is cut off or malformed", k + 1, ancount);
            goto fail;
        }
        if (rr.class_ != CLASS_IN) {
            reject(&a, "%s record of %s: class %u, not IN",
                   dns_type_name(rr.type, tname, sizeof tname), rr.owner, rr.class_);
            continue;
        }
        if (rr.type != qtype && rr.type != DNS_TYPE_CNAME) {
            reject(&a, "%s record of %s: not asked for",
                   dns_type_name(rr.type, tname, sizeof tname), rr.owner);
            continue;
        }
        dns_record rec;
        char why[128];
        if (decode_rdata(&rd, &rr, &rec, why, sizeof why) != 0) {
            reject(&a, "%s record of %s: %s", dns_type_name(rr.type, tname, sizeof tname), rr.owner,
                   why);
            continue;
        }
        int rc = rr.type == DNS_TYPE_CNAME ? push_record(&cnames, &n_cnames, &rec)
                                           : push_record(&candidates, &n_candidates, &rec);
        if (rc != 0) {
            record_free(&rec);
            goto nomem;
        }
    }
    read_negative_ttl(&rd, off, nscount, &a);

    used = calloc(n_cnames + 1, sizeof *used);
    if (used == NULL) goto nomem;
    if (follow_chain(&a, cnames, n_cnames, used, err, errlen) != 0) goto fail;
    for (size_t k = 0; k < n_cnames; k++)
        if (!used[k])
            reject(&a, "CNAME %s -> %s: not on the chain from %s", cnames[k].owner, cnames[k].data,
                   a.qname);
    for (size_t k = 0; k < n_candidates; k++) {
        dns_record *rec = &candidates[k];
        if (strcmp(rec->owner, a.final_name) != 0) {
            reject(&a, "%s %s of %s: owned by another name than %s",
                   dns_type_name(rec->type, tname, sizeof tname), rec->data, rec->owner,
                   a.final_name);
            record_free(rec);
            rec->owner = rec->data = NULL;
            continue;
        }
        if (push_record(&a.records, &a.n_records, rec) != 0) goto nomem;
        note_ttl(&a, rec->ttl);
        rec->owner = rec->data = NULL; /* moved */
    }
    for (size_t k = 0; k < n_cnames; k++)
        record_free(&cnames[k]);
    free(cnames);
    free(candidates);
    free(used);
    *out = a;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
fail:
    /* Candidates already moved into a.records have NULL strings here. */
    for (size_t k = 0; k < n_candidates; k++)
        record_free(&candidates[k]);
    for (size_t k = 0; k < n_cnames; k++)
        record_free(&cnames[k]);
    free(candidates);
    free(cnames);
    free(used);
    dns_answer_free(&a);
    return -1;
}

/* Frees an answer; see dns_answer.h. */
void dns_answer_free(dns_answer *a)
{
    if (a == NULL) return;
    for (size_t k = 0; k < a->n_records; k++)
        record_free(&a->records[k]);
    for (size_t k = 0; k < a->n_chain; k++)
        record_free(&a->chain[k]);
    for (size_t k = 0; k < a->n_rejected; k++)
        free(a->rejected[k]);
    free(a->records);
    free(a->chain);
    free(a->rejected);
    free(a->qname);
    free(a->final_name);
    memset(a, 0, sizeof *a);
}

const char *dns_type_name(uint16_t type, char *buf, size_t buflen)
{
    switch (type) {
    case DNS_TYPE_A:
        return "A";
    case DNS_TYPE_AAAA:
        return "AAAA";
    case DNS_TYPE_SRV:
        return "SRV";
    case DNS_TYPE_CNAME:
        return "CNAME";
    case DNS_TYPE_SOA:
        return "SOA";
    default:
        snprintf(buf, buflen, "TYPE%u", type);
        return buf;
    }
}

const char *dns_rcode_name(int rcode, char *buf, size_t buflen)
{
    static const char *const names[] = {"NOERROR",  "FORMERR", "SERVFAIL",
                                        "NXDOMAIN", "NOTIMP",  "REFUSED"};
    if (rcode >= 0 && rcode < (int)(sizeof names / sizeof names[0])) return names[rcode];
    snprintf(buf, buflen, "RCODE%d", rcode);
    return buf;
}
