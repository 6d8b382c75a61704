/* test_coordinator_member: the member table's structures that the member
 * farm benchmark (bench/farm_bench.sh) made scale: node names interned to
 * ids, a member's nodes() as a bit per id updated in constant time per event,
 * and its per-peer pair state kept sorted and pruned once it carries
 * nothing. Each operation is checked against a plain model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "namepool.h"
#include "coordinator_internal.h"
#include "strv.h"

static void test_strv_find_sorted(void **state)
{
    (void)state;
    char *v[] = {"a@h", "c@h", "e@h"};
    size_t pos = 99;
    assert_false(strv_find_sorted(v, 0, "a@h", &pos));
    assert_int_equal(pos, 0);
    assert_true(strv_find_sorted(v, 3, "a@h", &pos));
    assert_int_equal(pos, 0);
    assert_true(strv_find_sorted(v, 3, "e@h", &pos));
    assert_int_equal(pos, 2);
    assert_false(strv_find_sorted(v, 3, "b@h", &pos));
    assert_int_equal(pos, 1);
    assert_false(strv_find_sorted(v, 3, "0@h", &pos));
    assert_int_equal(pos, 0);
    assert_false(strv_find_sorted(v, 3, "z@h", &pos));
    assert_int_equal(pos, 3);
}

/* Ids in order of first sight, found again by name, stable as more come. */
static void test_namepool(void **state)
{
    (void)state;
    namepool p;
    memset(&p, 0, sizeof(p));
    assert_int_equal(namepool_find(&p, "a@h"), -1);
    char name[32];
    for (int k = 0; k < 500; k++) {
        snprintf(name, sizeof(name), "n%03d@h", (k * 7919) % 500);
        assert_int_equal(namepool_intern(&p, name), k);
    }
    assert_int_equal(p.n, 500);
    for (int k = 0; k < 500; k++) {
        snprintf(name, sizeof(name), "n%03d@h", (k * 7919) % 500);
        assert_int_equal(namepool_find(&p, name), k);
        assert_int_equal(namepool_intern(&p, name), k); /* no duplicate */
        assert_string_equal(namepool_name(&p, (size_t)k), name);
    }
    assert_int_equal(p.n, 500);
    assert_int_equal(namepool_find(&p, "zzz@h"), -1);
    assert_int_equal(namepool_find(&p, ""), -1);
    namepool_free(&p);
    assert_int_equal(p.n, 0);
}

static void check_view(const namepool *pool, const member *m, const unsigned char *model,
                       size_t universe)
{
    const char **names = malloc((m->n_seen + 1) * sizeof(*names));
    assert_non_null(names);
    member_seen_names(pool, m, names);
    size_t k = 0;
    char name[32];
    for (size_t i = 0; i < universe; i++) {
        snprintf(name, sizeof(name), "n%03zu@h", i);
        assert_int_equal(member_sees(pool, m, name), model[i] != 0);
        if (!model[i]) continue;
        assert_true(k < m->n_seen);
        assert_string_equal(names[k], name); /* sorted by name */
        k++;
    }
    assert_int_equal(k, m->n_seen);
    free(names);
}

/* Random nodeup/nodedown against a model (each says whether it changed
 * anything, which decides whether a planning pass follows), starting from
 * no view and from a snapshot. */
static void test_seen_update_matches_model(void **state)
{
    (void)state;
    enum { UNIVERSE = 300, STEPS = 5000 };
    for (int start = 0; start < 2; start++) {
        namepool pool;
        memset(&pool, 0, sizeof(pool));
        member m;
        memset(&m, 0, sizeof(m));
        /* the member is n042@h: never in its own view, whatever it reports */
        m.self_id = namepool_intern(&pool, "n042@h");
        assert_true(m.self_id >= 0);
        unsigned char model[UNIVERSE] = {0};
        char name[32];
        /* a nodedown for a name never seen changes nothing */
        assert_false(member_seen_update(&pool, &m, "n001@h", false));
        if (start == 1) {
            char *snap[3] = {"n200@h", "n007@h", "n100@h"};   /* unsorted, as nodes() is */
            assert_true(member_set_seen(&pool, &m, snap, 3)); /* the first view is news */
            model[200] = model[7] = model[100] = 1;
            assert_true(m.has_snapshot);
            /* the same set again, in another order: nothing changed */
            char *again[3] = {"n100@h", "n200@h", "n007@h"};
            assert_false(member_set_seen(&pool, &m, again, 3));
            check_view(&pool, &m, model, UNIVERSE);
            /* one more node: changed; one fewer: changed */
            char *more[4] = {"n100@h", "n200@h", "n007@h", "n050@h"};
            assert_true(member_set_seen(&pool, &m, more, 4));
            model[50] = 1;
            check_view(&pool, &m, model, UNIVERSE);
            assert_true(member_set_seen(&pool, &m, more, 3));
            model[50] = 0;
            check_view(&pool, &m, model, UNIVERSE);
            /* its own name in the list changes nothing */
            char *with_self[4] = {"n100@h", "n042@h", "n200@h", "n007@h"};
            assert_false(member_set_seen(&pool, &m, with_self, 4));
            check_view(&pool, &m, model, UNIVERSE);
        } else {
            /* an empty first view is news too */
            assert_true(member_set_seen(&pool, &m, NULL, 0));
            assert_false(member_set_seen(&pool, &m, NULL, 0));
        }
        uint64_t x = 12345 + (uint64_t)start;
        for (int s = 0; s < STEPS; s++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t i = (size_t)(x >> 33) % UNIVERSE;
            bool up = (x >> 20) % 3 != 0; /* more ups than downs: the view grows */
            snprintf(name, sizeof(name), "n%03zu@h", i);
            bool was = model[i];
            if (i == 42) { /* an event about itself is ignored */
                assert_false(member_seen_update(&pool, &m, name, up));
                continue;
            }
            assert_int_equal(member_seen_update(&pool, &m, name, up), was != up);
            model[i] = up;
            if (s % 97 == 0) check_view(&pool, &m, model, UNIVERSE);
        }
        check_view(&pool, &m, model, UNIVERSE);
        member_view_release(&m);
        namepool_free(&pool);
    }
}

/* pair_get keeps pairs sorted (by name id) and finds them again; pair_prune drops only
 * the ones that carry nothing (nothing in flight, no backoff, settled). */
static void test_pairs_sorted_and_pruned(void **state)
{
    (void)state;
    namepool pool;
    memset(&pool, 0, sizeof(pool));
    member m;
    memset(&m, 0, sizeof(m));
    config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.backoff_min_ms = 200;
    cfg.backoff_max_ms = 5000;
    char name[32];
    /* insert in a scrambled order */
    for (size_t k = 0; k < 100; k++) {
        snprintf(name, sizeof(name), "p%03zu@h", (k * 37) % 100);
        pair_state *p = pair_get(&pool, &m, name, true);
        assert_non_null(p);
        assert_string_equal(namepool_name(&pool, p->peer), name);
        assert_false(p->in_flight);
        p->in_flight = true;
    }
    assert_int_equal(m.n_pairs, 100);
    for (size_t k = 1; k < m.n_pairs; k++)
        assert_true(m.pairs[k - 1].peer < m.pairs[k].peer);
    assert_null(pair_get(&pool, &m, "q@h", false));
    assert_int_equal(m.n_pairs, 100);
    /* same entry on a second look-up, no duplicate */
    pair_state *p5 = pair_get(&pool, &m, "p005@h", true);
    assert_true(p5->in_flight);
    assert_int_equal(m.n_pairs, 100);

    /* outcomes: even peers succeed, peers divisible by 3 (and odd) fail */
    for (size_t k = 0; k < 100; k++) {
        snprintf(name, sizeof(name), "p%03zu@h", k);
        pair_state *p = pair_get(&pool, &m, name, false);
        assert_non_null(p);
        if (k % 2 == 0)
            pair_record_result(p, true, 1000, &cfg);
        else if (k % 3 == 0)
            pair_record_result(p, false, 1000, &cfg);
    }
    /* during the settle period nothing goes */
    pair_prune(&m, 1000);
    assert_int_equal(m.n_pairs, 100);
    /* after it: the successes go; failures (backoff kept) and those still in
     * flight stay */
    pair_prune(&m, 1000 + 10000);
    size_t want = 0;
    for (size_t k = 0; k < 100; k++) {
        snprintf(name, sizeof(name), "p%03zu@h", k);
        pair_state *p = pair_get(&pool, &m, name, false);
        if (k % 2 == 0) {
            assert_null(p);
        } else {
            assert_non_null(p);
            want++;
            if (k % 3 == 0) {
                assert_false(p->in_flight);
                assert_int_equal(p->delay_ms, 200);
            } else {
                assert_true(p->in_flight);
            }
        }
    }
    assert_int_equal(m.n_pairs, want);
    for (size_t k = 1; k < m.n_pairs; k++)
        assert_true(m.pairs[k - 1].peer < m.pairs[k].peer);
    /* a pruned pair comes back fresh */
    pair_state *p0 = pair_get(&pool, &m, "p000@h", true);
    assert_non_null(p0);
    assert_false(p0->in_flight);
    assert_int_equal(p0->delay_ms, 0);
    assert_int_equal(p0->not_before_ms, 0);
    /* the room of pruned pairs is given back: keep 5 of them */
    assert_int_equal(m.cap_pairs, 128);
    for (size_t k = 5; k < m.n_pairs; k++) {
        m.pairs[k].in_flight = false;
        m.pairs[k].delay_ms = 0;
        m.pairs[k].not_before_ms = 0;
    }
    uint32_t kept[5];
    for (size_t k = 0; k < 5; k++) {
        m.pairs[k].in_flight = true;
        kept[k] = m.pairs[k].peer;
    }
    pair_prune(&m, 1000 + 10000);
    assert_int_equal(m.n_pairs, 5);
    assert_int_equal(m.cap_pairs, 10);
    for (size_t k = 0; k < 5; k++)
        assert_int_equal(m.pairs[k].peer, kept[k]);
    /* everything pruned: nothing stays allocated */
    for (size_t k = 0; k < m.n_pairs; k++) {
        m.pairs[k].in_flight = false;
        m.pairs[k].delay_ms = 0;
        m.pairs[k].not_before_ms = 0;
    }
    pair_prune(&m, 1000 + 10000);
    assert_int_equal(m.n_pairs, 0);
    assert_int_equal(m.cap_pairs, 0);
    assert_null(m.pairs);
    free(m.pairs);
    namepool_free(&pool);
}

/* Members of a full mesh share one view; a change to one copies it and
 * leaves the others as they were; sharing again finds the equal ones. */
static void test_views_shared(void **state)
{
    (void)state;
    namepool pool;
    memset(&pool, 0, sizeof(pool));
    const char *names[4] = {"a@h", "b@h", "c@h", "d@h"};
    member ms[4];
    member *mp[4];
    memset(ms, 0, sizeof(ms));
    for (int i = 0; i < 4; i++) {
        ms[i].self_id = namepool_intern(&pool, names[i]);
        mp[i] = &ms[i];
    }
    /* each sees the three others (snapshots for a, b; events for c, d) */
    char *a_sees[3] = {"b@h", "c@h", "d@h"}, *b_sees[3] = {"a@h", "c@h", "d@h"};
    assert_true(member_set_seen(&pool, &ms[0], a_sees, 3));
    assert_true(member_set_seen(&pool, &ms[1], b_sees, 3));
    for (int i = 2; i < 4; i++)
        for (int j = 0; j < 4; j++)
            if (i != j) assert_true(member_seen_update(&pool, &ms[i], names[j], true));
    for (int i = 0; i < 4; i++)
        assert_int_equal(ms[i].n_seen, 3);
    members_share_views(mp, 4);
    for (int i = 1; i < 4; i++)
        assert_ptr_equal(ms[i].seen, ms[0].seen);
    assert_int_equal(ms[0].seen->refs, 4);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            assert_int_equal(member_sees(&pool, &ms[i], names[j]), i != j);

    /* c loses d: c gets a copy of its own, the others still share */
    assert_true(member_seen_update(&pool, &ms[2], "d@h", false));
    assert_ptr_not_equal(ms[2].seen, ms[0].seen);
    assert_int_equal(ms[0].seen->refs, 3);
    assert_false(member_sees(&pool, &ms[2], "d@h"));
    assert_true(member_sees(&pool, &ms[0], "d@h"));
    assert_true(member_sees(&pool, &ms[3], "c@h"));
    assert_int_equal(ms[2].n_seen, 2);
    assert_int_equal(ms[3].n_seen, 3);
    const char *out[3];
    member_seen_names(&pool, &ms[3], out);
    assert_string_equal(out[0], "a@h");
    assert_string_equal(out[1], "b@h");
    assert_string_equal(out[2], "c@h");
    /* d loses c too: still different from the others, equal to nobody */
    assert_true(member_seen_update(&pool, &ms[3], "c@h", false));
    members_share_views(mp, 4);
    assert_ptr_not_equal(ms[2].seen, ms[3].seen);
    assert_int_equal(ms[0].seen->refs, 2);
    /* both links come back: all four share one view again */
    assert_true(member_seen_update(&pool, &ms[2], "d@h", true));
    assert_true(member_seen_update(&pool, &ms[3], "c@h", true));
    members_share_views(mp, 4);
    for (int i = 1; i < 4; i++)
        assert_ptr_equal(ms[i].seen, ms[0].seen);
    assert_int_equal(ms[0].seen->refs, 4);
    for (int i = 0; i < 4; i++)
        member_view_release(&ms[i]);
    namepool_free(&pool);
}

/* A connect action's deadline grows with its targets; a disconnect's and a
 * single connect's is rpc_timeout; the sum never wraps. */
static void test_action_rpc_timeout(void **state)
{
    (void)state;
    assert_int_equal(action_rpc_timeout_ms(5000, MESH_CONNECT, 1), 5000);
    assert_int_equal(action_rpc_timeout_ms(5000, MESH_CONNECT, 0), 5000);
    assert_int_equal(action_rpc_timeout_ms(5000, MESH_CONNECT, 64), 5063);
    assert_int_equal(action_rpc_timeout_ms(5000, MESH_CONNECT, 5000), 9999);
    assert_int_equal(action_rpc_timeout_ms(5000, MESH_DISCONNECT, 5000), 5000);
    assert_int_equal(action_rpc_timeout_ms(UINT_MAX - 10, MESH_CONNECT, 100), UINT_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_action_rpc_timeout),
        cmocka_unit_test(test_views_shared),
        cmocka_unit_test(test_strv_find_sorted),
        cmocka_unit_test(test_namepool),
        cmocka_unit_test(test_seen_update_matches_model),
        cmocka_unit_test(test_pairs_sorted_and_pruned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
