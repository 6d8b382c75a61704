/* Unit tests for forwarder_msg.c: the forwarder's three messages decode, and
 * every wrong type a member could send where a tuple, pid, integer or list
 * of atoms is expected is reported as malformed, never trusted; our own name
 * and invalid names never reach the node list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ei.h>

#include "forwarder_msg.h"
#include "term.h"

#define SELF "clusterd@127.0.0.1"
#define NODE "n1@127.0.0.1"

static void put_pid(ei_x_buff *x)
{
    erlang_pid p;
    memset(&p, 0, sizeof p);
    snprintf(p.node, sizeof p.node, NODE);
    p.num = 42;
    p.creation = 7;
    assert_int_equal(ei_x_encode_pid(x, &p), 0);
}

/* {Tag, 3, NODE, Pid, ...}: the header of both messages, arity n. */
static void header(ei_x_buff *x, const char *tag, int n)
{
    assert_int_equal(ei_x_new_with_version(x), 0);
    ei_x_encode_tuple_header(x, n);
    ei_x_encode_atom(x, tag);
    ei_x_encode_ulong(x, 3);
    ei_x_encode_atom(x, NODE);
    put_pid(x);
}

/* Decodes x after checking that term_validate accepts it (as links.c only
 * sees validated payloads). */
static forwarder_kind decode(ei_x_buff *x, forwarder_msg *f)
{
    size_t used = 0;
    assert_int_equal(term_validate(x->buff + 1, (size_t)x->index - 1, &used, NULL, 0), 0);
    forwarder_kind k = forwarder_msg_decode(x->buff, SELF, f);
    ei_x_free(x);
    return k;
}

/* {clusterd_unchanged, Cr, Node, Pid, Count}: the poll's short answer;
 * a Count that is no integer, or a wrong arity, is not trusted. */
static void test_unchanged(void **state)
{
    (void)state;
    ei_x_buff x;
    forwarder_msg f;
    header(&x, "clusterd_unchanged", 5);
    ei_x_encode_ulong(&x, 4999);
    assert_int_equal(decode(&x, &f), FWD_UNCHANGED);
    assert_int_equal(f.creation, 3);
    assert_string_equal(f.node, NODE);
    assert_int_equal(f.pid.num, 42);
    assert_int_equal(f.count, 4999);
    assert_null(f.nodes);
    forwarder_msg_free(&f);

    header(&x, "clusterd_unchanged", 5);
    ei_x_encode_atom(&x, "many");
    assert_int_equal(decode(&x, &f), FWD_MALFORMED);
    forwarder_msg_free(&f);

    header(&x, "clusterd_unchanged", 6);
    ei_x_encode_ulong(&x, 1);
    ei_x_encode_ulong(&x, 2);
    assert_int_equal(decode(&x, &f), FWD_NOT_OURS);
    forwarder_msg_free(&f);
}

static void test_nodes(void **state)
{
    (void)state;
    ei_x_buff x;
    header(&x, "clusterd_nodes", 5);
    ei_x_encode_list_header(&x, 4);
    ei_x_encode_atom(&x, "n2@127.0.0.1");
    ei_x_encode_atom(&x, SELF);         /* ourselves: left out */
    ei_x_encode_atom(&x, "not a node"); /* invalid: left out */
    ei_x_encode_atom(&x, "n3@127.0.0.1");
    ei_x_encode_empty_list(&x);
    forwarder_msg f;
    assert_int_equal(decode(&x, &f), FWD_NODES);
    assert_int_equal(f.creation, 3);
    assert_string_equal(f.node, NODE);
    assert_int_equal(f.pid.num, 42);
    assert_int_equal(f.n_nodes, 2);
    assert_string_equal(f.nodes[0], "n2@127.0.0.1");
    assert_string_equal(f.nodes[1], "n3@127.0.0.1");
    forwarder_msg_free(&f);
    assert_null(f.nodes);

    header(&x, "clusterd_nodes", 5);
    ei_x_encode_empty_list(&x);
    assert_int_equal(decode(&x, &f), FWD_NODES);
    assert_int_equal(f.n_nodes, 0);
    forwarder_msg_free(&f);
}

static void test_event(void **state)
{
    (void)state;
    ei_x_buff x;
    header(&x, "clusterd_event", 7);
    ei_x_encode_atom(&x, "nodedown");
    ei_x_encode_atom(&x, "n2@127.0.0.1");
    ei_x_encode_tuple_header(&x, 1);
    ei_x_encode_atom(&x, "connection_closed");
    forwarder_msg f;
    assert_int_equal(decode(&x, &f), FWD_EVENT);
    assert_false(f.nodeup);
    assert_string_equal(f.peer, "n2@127.0.0.1");
    assert_non_null(strstr(f.reason, "connection_closed"));
    forwarder_msg_free(&f);
}

static void test_not_ours(void **state)
{
    (void)state;
    ei_x_buff x;
    forwarder_msg f;
    /* an atom, a tuple too short, another tag, the right tag at the wrong arity */
    assert_int_equal(ei_x_new_with_version(&x), 0);
    ei_x_encode_atom(&x, "clusterd_nodes");
    assert_int_equal(decode(&x, &f), FWD_NOT_OURS);
    assert_int_equal(ei_x_new_with_version(&x), 0);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "clusterd_nodes");
    ei_x_encode_empty_list(&x);
    assert_int_equal(decode(&x, &f), FWD_NOT_OURS);
    header(&x, "other", 5);
    ei_x_encode_empty_list(&x);
    assert_int_equal(decode(&x, &f), FWD_NOT_OURS);
    header(&x, "clusterd_nodes", 7);
    ei_x_encode_empty_list(&x);
    ei_x_encode_empty_list(&x);
    ei_x_encode_empty_list(&x);
    assert_int_equal(decode(&x, &f), FWD_NOT_OURS);
}

static void test_wrong_types(void **state)
{
    (void)state;
    ei_x_buff x;
    forwarder_msg f;
    /* Cr an atom */
    assert_int_equal(ei_x_new_with_version(&x), 0);
    ei_x_encode_tuple_header(&x, 5);
    ei_x_encode_atom(&x, "clusterd_nodes");
    ei_x_encode_atom(&x, "three");
    ei_x_encode_atom(&x, NODE);
    put_pid(&x);
    ei_x_encode_empty_list(&x);
    assert_int_equal(decode(&x, &f), FWD_MALFORMED);
    /* Pid a tuple */
    assert_int_equal(ei_x_new_with_version(&x), 0);
    ei_x_encode_tuple_header(&x, 5);
    ei_x_encode_atom(&x, "clusterd_nodes");
    ei_x_encode_ulong(&x, 3);
    ei_x_encode_atom(&x, NODE);
    ei_x_encode_tuple_header(&x, 0);
    ei_x_encode_empty_list(&x);
    assert_int_equal(decode(&x, &f), FWD_MALFORMED);
    /* Nodes an atom, a list of integers, an improper list */
    header(&x, "clusterd_nodes", 5);
    ei_x_encode_atom(&x, "nodes");
    assert_int_equal(decode(&x, &f), FWD_MALFORMED_NODES);
    assert_null(f.nodes);
    header(&x, "clusterd_nodes", 5);
    ei_x_encode_list_header(&x, 2);
    ei_x_encode_atom(&x, "n2@127.0.0.1");
    ei_x_encode_long(&x, 1);
    ei_x_encode_empty_list(&x);
    assert_int_equal(decode(&x, &f), FWD_MALFORMED_NODES);
    assert_null(f.nodes);
    header(&x, "clusterd_nodes", 5);
    ei_x_encode_list_header(&x, 1);
    ei_x_encode_atom(&x, "n2@127.0.0.1");
    ei_x_encode_atom(&x, "tail");
    assert_int_equal(decode(&x, &f), FWD_NODES); /* an improper tail is skipped */
    assert_int_equal(f.n_nodes, 1);
    forwarder_msg_free(&f);
    /* Peer an integer, the event a list */
    header(&x, "clusterd_event", 7);
    ei_x_encode_atom(&x, "nodeup");
    ei_x_encode_long(&x, 9);
    ei_x_encode_empty_list(&x);
    assert_int_equal(decode(&x, &f), FWD_MALFORMED_EVENT);
    header(&x, "clusterd_event", 7);
    ei_x_encode_empty_list(&x);
    ei_x_encode_atom(&x, "n2@127.0.0.1");
    ei_x_encode_empty_list(&x);
    assert_int_equal(decode(&x, &f), FWD_MALFORMED_EVENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nodes),       cmocka_unit_test(test_unchanged),
        cmocka_unit_test(test_event),       cmocka_unit_test(test_not_ours),
        cmocka_unit_test(test_wrong_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
