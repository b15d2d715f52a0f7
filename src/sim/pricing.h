/* The simulated Price List API (awsJson1_1, AWSPriceListService.*):
 * GetProducts with the real PriceList shape (each product a JSON string),
 * TERM_MATCH filters and NextToken paging; DescribeServices and
 * GetAttributeValues for the attributes it models. Prices come from the
 * instance catalog. Pure. */
#ifndef FR_SIM_PRICING_H
#define FR_SIM_PRICING_H

#include "catalog.h"
#include "proto.h"

void fr_sim_pricing_call(const fr_sim_catalog *cat, const char *region, const fr_sim_call *c, fr_sim_resp *r);
/* The Price List "location" of a region ("US East (N. Virginia)"). */
const char *fr_sim_region_location(const char *region);

#endif
