/* regions_off: the regions program compiled with DEIATRACE_NO_REGIONS, to show every call compiles
 * away (the test checks that it references no dt_region_* symbol and runs). */
#define DEIATRACE_NO_REGIONS 1
#include "regions.c"
