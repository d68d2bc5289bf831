/* Stand-in for Xilinx's xil_cache.h (ARMv7 standalone BSP): the two range operations. */
#ifndef XIL_CACHE_H
#define XIL_CACHE_H
#include "xil_types.h"
void Xil_DCacheFlushRange(INTPTR adr, u32 len);
void Xil_DCacheInvalidateRange(INTPTR adr, u32 len);
#endif
