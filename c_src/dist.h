/* dist: the Erlang distribution protocol after the handshake, as bytes:
 * framing (4-byte length, 0 = tick), decoding of pass-through control
 * messages with validated terms, and encoding of the messages we send.
 * Pure functions; the event loop feeds them bytes. */
#ifndef CLUSTERD_DIST_H
#define CLUSTERD_DIST_H

#include <stdbool.h>
#include <stddef.h>

#include <ei.h>

#define DIST_MAX_PACKET (16u * 1024u * 1024u) /* larger packets close the link */

/* Control message types we act on (OTP's dist.hrl numbering). */
enum {
    DIST_LINK = 1,
    DIST_SEND = 2,
    DIST_EXIT = 3,
    DIST_UNLINK = 4,
    DIST_REG_SEND = 6,
    DIST_EXIT2 = 8,
    DIST_SEND_TT = 12,
    DIST_REG_SEND_TT = 16,
    DIST_SEND_SENDER = 22,
    DIST_SEND_SENDER_TT = 23,
    DIST_ALIAS_SEND = 33,
    DIST_ALIAS_SEND_TT = 34,
    DIST_UNLINK_ID = 35,
    DIST_UNLINK_ID_ACK = 36,
};

typedef struct dist_msg {
    long type;
    bool has_from;
    erlang_pid from;
    bool has_to_pid;
    erlang_pid to;
    bool has_toname;
    char toname[MAXATOMLEN_UTF8];
    /* The message term (with its version byte), already validated; NULL if
     * the control message carries none. Points into the packet. */
    const char *payload;
    size_t payload_len;
} dist_msg;

/* Looks for one complete packet at buf[0..len). Returns 1 and sets *pkt,
 * *pkt_len (body without the length) and *consumed; 0 if more bytes are
 * needed; -1 if the announced length exceeds DIST_MAX_PACKET. A tick is a
 * packet of length 0. */
int dist_frame(const char *buf, size_t len, const char **pkt, size_t *pkt_len, size_t *consumed);

/* Decodes a non-empty packet body. Returns 0, or -1 with a reason. Unknown
 * control types decode with only `type` set (the caller ignores them). */
int dist_decode(const char *pkt, size_t len, dist_msg *m, char *err, size_t errlen);

/* Appends to out a complete packet (length included) sending msg (an encoded
 * term with version byte) to a pid. The encoders return 0, or -1 leaving out
 * as it was (encoding failed, or the packet would exceed DIST_MAX_PACKET). */
int dist_encode_send(ei_x_buff *out, const erlang_pid *to, const char *msg, size_t msglen);

/* Appends a packet sending msg to a registered name on the peer. */
int dist_encode_reg_send(ei_x_buff *out, const erlang_pid *from, const char *toname,
                         const char *msg, size_t msglen);

/* Appends a packet for an UNLINK_ID_ACK answering the UNLINK_ID packet body
 * pkt[0..len) (as dist_frame gave it); -1 if pkt is not a valid UNLINK_ID. */
int dist_encode_unlink_id_ack(ei_x_buff *out, const char *pkt, size_t len);

#endif
