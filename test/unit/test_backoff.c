/* Unit tests for the per-pair action backoff (coordinator_member.c): a
 * failed action is retried after a delay that doubles from backoff_min to
 * backoff_max with +-20 % jitter (so that actions that failed together are
 * not retried in lockstep); a success only waits out the settle period and
 * resets the doubling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "coordinator_internal.h"

static void test_failures_double_within_bounds_with_jitter(void **state)
{
    (void)state;
    config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.backoff_min_ms = 1000;
    cfg.backoff_max_ms = 4000;
    pair_state p;
    memset(&p, 0, sizeof(p));
    const uint64_t now = 1000000;
    unsigned expect[] = {1000, 2000, 4000, 4000};
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        p.in_flight = true;
        pair_record_result(&p, false, now, &cfg);
        assert_false(p.in_flight);
        assert_int_equal(p.delay_ms, expect[i]);
        uint64_t wait = p.not_before_ms - now;
        assert_true(wait >= expect[i] - expect[i] / 5);
        assert_true(wait <= expect[i] + expect[i] / 5);
    }
    /* A success resets the doubling and only settles: at most 5 s, the cap
     * for nodeup events that never come (the reconcile ends it as soon as
     * both members report the link). */
    pair_record_result(&p, true, now, &cfg);
    assert_int_equal(p.delay_ms, 0);
    assert_true(p.not_before_ms > now);
    assert_true(p.not_before_ms - now <= 5000);
}

static void test_retries_of_many_pairs_are_spread(void **state)
{
    (void)state;
    config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.backoff_min_ms = 1000;
    cfg.backoff_max_ms = 1000;
    const uint64_t now = 5000;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < 64; i++) {
        pair_state p;
        memset(&p, 0, sizeof(p));
        pair_record_result(&p, false, now, &cfg);
        if (p.not_before_ms < lo) lo = p.not_before_ms;
        if (p.not_before_ms > hi) hi = p.not_before_ms;
    }
    /* 64 draws over a 401 ms window: all equal would mean no jitter. */
    assert_true(hi - lo >= 100);
    assert_true(lo >= now + 800 && hi <= now + 1200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failures_double_within_bounds_with_jitter),
        cmocka_unit_test(test_retries_of_many_pairs_are_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
