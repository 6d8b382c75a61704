/* dist: framing, validated decoding and encoding of distribution packets. */
#include "dist.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "term.h"

#define PASS_THROUGH 112 /* 'p' */

int dist_frame(const char *buf, size_t len, const char **pkt, size_t *pkt_len, size_t *consumed)
{
    if (len < 4) return 0;
    const unsigned char *u = (const unsigned char *)buf;
    uint32_t n = ((uint32_t)u[0] << 24) | ((uint32_t)u[1] << 16) | ((uint32_t)u[2] << 8) | u[3];
    if (n > DIST_MAX_PACKET) return -1;
    if (len - 4 < n) return 0;
    *pkt = buf + 4;
    *pkt_len = n;
    *consumed = 4 + (size_t)n;
    return 1;
}

/* Validates the versioned term at pkt[*pos..len) and returns its size. */
static int versioned_term(const char *pkt, size_t len, size_t pos, size_t *size, char *err,
                          size_t errlen)
{
    if (pos >= len || (unsigned char)pkt[pos] != 131) {
        snprintf(err, errlen, "missing version byte at %zu", pos);
        return -1;
    }
    size_t used = 0;
    if (term_validate(pkt + pos + 1, len - pos - 1, &used, err, errlen) < 0) return -1;
    *size = used + 1;
    return 0;
}

/* Decodes element i of the control tuple at ctl (already validated). */
static int decode_pid_at(const char *ctl, int *idx, erlang_pid *p)
{
    return ei_decode_pid(ctl, idx, p);
}

/* Steps over one element of the validated control message ctl[0..size) with
 * the bounded walk rather than ei_skip_term, whose loops ignore failures. */
static int skip_term_at(const char *ctl, size_t size, int *idx)
{
    char err[64];
    size_t used = 0;
    if (*idx < 0 || (size_t)*idx >= size ||
        term_validate(ctl + *idx, size - (size_t)*idx, &used, err, sizeof(err)) < 0)
        return -1;
    *idx += (int)used;
    return 0;
}

int dist_decode(const char *pkt, size_t len, dist_msg *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    if (len < 1 || (unsigned char)pkt[0] != PASS_THROUGH) {
        snprintf(err, errlen, "not a pass-through packet (first byte %u)",
                 len ? (unsigned char)pkt[0] : 0u);
        return -1;
    }
    size_t ctl_size = 0;
    if (versioned_term(pkt, len, 1, &ctl_size, err, errlen) < 0) return -1;
    const char *ctl = pkt + 1;
    int idx = 0, arity = 0;
    if (ei_decode_version(ctl, &idx, NULL) < 0 || ei_decode_tuple_header(ctl, &idx, &arity) < 0 ||
        arity < 1) {
        snprintf(err, errlen, "control message is not a tuple");
        return -1;
    }
    long type = 0;
    if (ei_decode_long(ctl, &idx, &type) < 0) {
        snprintf(err, errlen, "control message type is not an integer");
        return -1;
    }
    m->type = type;
    int ok = 0;
    switch (type) {
    case DIST_SEND: /* {2, Unused, To} */
    case DIST_SEND_TT:
        ok = arity >= 3 && skip_term_at(ctl, ctl_size, &idx) == 0 &&
             decode_pid_at(ctl, &idx, &m->to) == 0;
        m->has_to_pid = ok;
        break;
    case DIST_REG_SEND: /* {6, From, Unused, ToName} */
    case DIST_REG_SEND_TT:
        ok = arity >= 4 && decode_pid_at(ctl, &idx, &m->from) == 0 &&
             skip_term_at(ctl, ctl_size, &idx) == 0 && ei_decode_atom(ctl, &idx, m->toname) == 0;
        m->has_from = ok;
        m->has_toname = ok;
        break;
    case DIST_SEND_SENDER: /* {22, From, To} */
    case DIST_SEND_SENDER_TT:
        ok = arity >= 3 && decode_pid_at(ctl, &idx, &m->from) == 0 &&
             decode_pid_at(ctl, &idx, &m->to) == 0;
        m->has_from = ok;
        m->has_to_pid = ok;
        break;
    default:
        return 0; /* links, exits, monitors, aliases: nothing we act on */
    }
    if (!ok) {
        snprintf(err, errlen, "malformed control message of type %ld", type);
        return -1;
    }
    size_t pos = 1 + ctl_size;
    size_t msg_size = 0;
    if (versioned_term(pkt, len, pos, &msg_size, err, errlen) < 0) return -1;
    m->payload = pkt + pos;
    m->payload_len = msg_size;
    return 0;
}

static int begin_packet(ei_x_buff *out, int *len_at)
{
    *len_at = out->index;
    char hdr[5] = {0, 0, 0, 0, PASS_THROUGH};
    return ei_x_append_buf(out, hdr, 5);
}

/* Completes the packet begun at len_at: appends msg, fills in the length.
 * On failure (encoded is 0, or the packet would exceed DIST_MAX_PACKET,
 * which the peer refuses) drops the partial packet, leaving out as it was. */
static int end_packet(ei_x_buff *out, int len_at, int encoded, const char *msg, size_t msglen)
{
    if (!encoded || msglen > DIST_MAX_PACKET ||
        (size_t)(out->index - len_at - 4) + msglen > DIST_MAX_PACKET ||
        (msg && ei_x_append_buf(out, msg, (int)msglen) < 0)) {
        out->index = len_at;
        return -1;
    }
    uint32_t n = (uint32_t)(out->index - len_at - 4);
    unsigned char *p = (unsigned char *)out->buff + len_at;
    p[0] = (unsigned char)(n >> 24);
    p[1] = (unsigned char)(n >> 16);
    p[2] = (unsigned char)(n >> 8);
    p[3] = (unsigned char)n;
    return 0;
}

int dist_encode_send(ei_x_buff *out, const erlang_pid *to, const char *msg, size_t msglen)
{
    int at;
    if (begin_packet(out, &at) < 0) return -1;
    int ok = ei_x_encode_version(out) == 0 && ei_x_encode_tuple_header(out, 3) == 0 &&
             ei_x_encode_long(out, DIST_SEND) == 0 && ei_x_encode_atom(out, "") == 0 &&
             ei_x_encode_pid(out, to) == 0;
    return end_packet(out, at, ok, msg, msglen);
}

int dist_encode_reg_send(ei_x_buff *out, const erlang_pid *from, const char *toname,
                         const char *msg, size_t msglen)
{
    int at;
    if (begin_packet(out, &at) < 0) return -1;
    int ok = ei_x_encode_version(out) == 0 && ei_x_encode_tuple_header(out, 4) == 0 &&
             ei_x_encode_long(out, DIST_REG_SEND) == 0 && ei_x_encode_pid(out, from) == 0 &&
             ei_x_encode_atom(out, "") == 0 && ei_x_encode_atom(out, toname) == 0;
    return end_packet(out, at, ok, msg, msglen);
}

int dist_encode_unlink_id_ack(ei_x_buff *out, const char *pkt, size_t len)
{
    /* {35, Id, From, To} -> {36, Id, To, From}; Id is an unsigned 64-bit
     * counter on the BEAM side. */
    char err[64];
    size_t ctl_size;
    if (len < 2 || (unsigned char)pkt[0] != PASS_THROUGH ||
        versioned_term(pkt, len, 1, &ctl_size, err, sizeof(err)) < 0)
        return -1;
    const char *ctl = pkt + 1;
    int idx = 1, arity = 0;
    long type;
    EI_ULONGLONG id;
    erlang_pid from, to;
    if (ei_decode_tuple_header(ctl, &idx, &arity) < 0 || arity != 4 ||
        ei_decode_long(ctl, &idx, &type) < 0 || type != DIST_UNLINK_ID ||
        ei_decode_ulonglong(ctl, &idx, &id) < 0 || ei_decode_pid(ctl, &idx, &from) < 0 ||
        ei_decode_pid(ctl, &idx, &to) < 0)
        return -1;
    int at;
    if (begin_packet(out, &at) < 0) return -1;
    int ok = ei_x_encode_version(out) == 0 && ei_x_encode_tuple_header(out, 4) == 0 &&
             ei_x_encode_long(out, DIST_UNLINK_ID_ACK) == 0 &&
             ei_x_encode_ulonglong(out, id) == 0 && ei_x_encode_pid(out, &to) == 0 &&
             ei_x_encode_pid(out, &from) == 0;
    return end_packet(out, at, ok, NULL, 0);
}
