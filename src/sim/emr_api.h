/* EMR operations on the awsJson1_1 wire (target ElasticMapReduce.*). */
#ifndef FR_SIM_EMR_API_H
#define FR_SIM_EMR_API_H

#include "emr.h"
#include "proto.h"

#define FR_SIM_EMR_PAGE 50

void fr_sim_emr_call(fr_sim_emr *e, const fr_sim_call *c, int64_t now, fr_sim_resp *r);

#endif
