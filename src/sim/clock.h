/* The simulated clock, pure: the shell passes monotonic real time in.
 *   sim(t) = base_sim + (t - base_mono) * speed
 * Changing the speed re-anchors, advancing moves base_sim forward, so the
 * clock never runs backwards. */
#ifndef FR_SIM_CLOCK_H
#define FR_SIM_CLOCK_H

#include <stdint.h>

typedef struct fr_sim_clock {
    double base_sim_ms;
    uint64_t base_mono_ms;
    double speed;
    int64_t start_ms;   /* sim time at start-up */
    double advanced_ms; /* total of explicit advances */
} fr_sim_clock;

void fr_sim_clock_init(fr_sim_clock *c, int64_t sim_start_ms, uint64_t mono_ms, double speed);
int64_t fr_sim_clock_now(const fr_sim_clock *c, uint64_t mono_ms);
/* Returns FR_ECONFIG for a negative or non-finite speed. */
int fr_sim_clock_set_speed(fr_sim_clock *c, double speed, uint64_t mono_ms);
int fr_sim_clock_advance(fr_sim_clock *c, double seconds, uint64_t mono_ms);
/* Real milliseconds until the sim clock reaches sim_ms (0 if past; -1 when
 * the clock is stopped). */
int64_t fr_sim_clock_real_delay(const fr_sim_clock *c, int64_t sim_ms, uint64_t mono_ms);

#endif
