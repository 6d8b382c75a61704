/* fuzz_dist: an arbitrary byte stream as it arrives on a distribution
 * connection, handled the way conn.c handles it: dist_frame repeatedly, each
 * non-empty packet (copied to its own allocation so a read past its end is
 * caught) through dist_decode, an UNLINK_ID answered with
 * dist_encode_unlink_id_ack. What decodes must be internally consistent:
 * the payload lies inside the packet, starts with the version byte and is
 * one term ei can skip; re-encoding SEND / REG_SEND gives the same fields. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ei.h>

#include "dist.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int pid_equal(const erlang_pid *a, const erlang_pid *b)
{
    return strcmp(a->node, b->node) == 0 && a->num == b->num && a->serial == b->serial &&
           a->creation == b->creation;
}

/* Decodes one framed packet from an encoder's output. */
static void decode_encoded(const ei_x_buff *x, dist_msg *m)
{
    const char *pkt;
    size_t plen, used;
    char err[160];
    CHECK(dist_frame(x->buff, (size_t)x->index, &pkt, &plen, &used) == 1);
    CHECK(used == (size_t)x->index);
    CHECK(dist_decode(pkt, plen, m, err, sizeof(err)) == 0);
}

/* Re-encodes a decoded SEND / REG_SEND and checks the round trip. */
static void check_round_trip(const dist_msg *m)
{
    ei_x_buff x;
    dist_msg back;
    if (m->type == DIST_SEND && m->has_to_pid) {
        CHECK(ei_x_new(&x) == 0);
        /* The pid's node may be an atom ei will not re-encode (bad UTF-8). */
        if (dist_encode_send(&x, &m->to, m->payload, m->payload_len) == 0) {
            decode_encoded(&x, &back);
            CHECK(back.type == DIST_SEND && back.has_to_pid && pid_equal(&back.to, &m->to));
            CHECK(back.payload_len == m->payload_len);
            CHECK(memcmp(back.payload, m->payload, m->payload_len) == 0);
        }
        ei_x_free(&x);
    } else if (m->type == DIST_REG_SEND && m->has_from && m->has_toname) {
        CHECK(ei_x_new(&x) == 0);
        if (dist_encode_reg_send(&x, &m->from, m->toname, m->payload, m->payload_len) == 0) {
            decode_encoded(&x, &back);
            CHECK(back.type == DIST_REG_SEND && back.has_from && pid_equal(&back.from, &m->from));
            CHECK(back.has_toname && strcmp(back.toname, m->toname) == 0);
            CHECK(back.payload_len == m->payload_len);
            CHECK(memcmp(back.payload, m->payload, m->payload_len) == 0);
        }
        ei_x_free(&x);
    }
}

static void handle_packet(const char *pkt, size_t len)
{
    dist_msg m;
    char err[160];
    err[0] = '\0';
    if (dist_decode(pkt, len, &m, err, sizeof(err)) < 0) {
        CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)));
        return;
    }
    if (m.payload) {
        CHECK(m.payload > pkt && m.payload_len >= 2);
        CHECK((size_t)(m.payload - pkt) + m.payload_len <= len);
        CHECK((unsigned char)m.payload[0] == 131);
        int idx = 1;
        CHECK(ei_skip_term(m.payload, &idx) == 0 && (size_t)idx == m.payload_len);
        check_round_trip(&m);
    }
    if (m.has_toname) CHECK(memchr(m.toname, '\0', sizeof(m.toname)));
    if (m.type == DIST_UNLINK_ID) {
        ei_x_buff x;
        CHECK(ei_x_new(&x) == 0);
        if (dist_encode_unlink_id_ack(&x, pkt, len) == 0) {
            dist_msg ack;
            decode_encoded(&x, &ack);
            CHECK(ack.type == DIST_UNLINK_ID_ACK);
        }
        ei_x_free(&x);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    size_t off = 0;
    for (;;) {
        const char *pkt;
        size_t plen, used;
        int fr = dist_frame(in + off, size - off, &pkt, &plen, &used);
        if (fr < 0) break;  /* conn.c closes the connection */
        if (fr == 0) break; /* waits for more bytes */
        CHECK(pkt == in + off + 4 && used == 4 + plen && used <= size - off);
        if (plen > 0) {
            char *copy = malloc(plen);
            CHECK(copy != NULL);
            memcpy(copy, pkt, plen);
            handle_packet(copy, plen);
            free(copy);
        }
        off += used;
    }
    return 0;
}
