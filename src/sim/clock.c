#include <math.h>

#include "clock.h"
#include "frugal/err.h"

void fr_sim_clock_init(fr_sim_clock *c, int64_t sim_start_ms, uint64_t mono_ms, double speed)
{
    c->base_sim_ms = (double)sim_start_ms;
    c->base_mono_ms = mono_ms;
    c->speed = speed >= 0 && isfinite(speed) ? speed : 1.0;
    c->start_ms = sim_start_ms;
    c->advanced_ms = 0;
}

int64_t fr_sim_clock_now(const fr_sim_clock *c, uint64_t mono_ms)
{
    double dt = mono_ms >= c->base_mono_ms ? (double)(mono_ms - c->base_mono_ms) : 0.0;
    return (int64_t)floor(c->base_sim_ms + dt * c->speed);
}

int fr_sim_clock_set_speed(fr_sim_clock *c, double speed, uint64_t mono_ms)
{
    if (!(speed >= 0) || !isfinite(speed) || speed > 1e6)
        return FR_ECONFIG;
    c->base_sim_ms = (double)fr_sim_clock_now(c, mono_ms);
    c->base_mono_ms = mono_ms;
    c->speed = speed;
    return 0;
}

int fr_sim_clock_advance(fr_sim_clock *c, double seconds, uint64_t mono_ms)
{
    if (!(seconds >= 0) || !isfinite(seconds) || seconds > 10 * 365 * 86400.0)
        return FR_ECONFIG;
    c->base_sim_ms = (double)fr_sim_clock_now(c, mono_ms) + seconds * 1000.0;
    c->base_mono_ms = mono_ms;
    c->advanced_ms += seconds * 1000.0;
    return 0;
}

int64_t fr_sim_clock_real_delay(const fr_sim_clock *c, int64_t sim_ms, uint64_t mono_ms)
{
    int64_t now = fr_sim_clock_now(c, mono_ms);
    if (sim_ms <= now)
        return 0;
    if (c->speed <= 0)
        return -1;
    return (int64_t)ceil((double)(sim_ms - now) / c->speed);
}
