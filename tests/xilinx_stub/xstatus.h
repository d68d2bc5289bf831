/* Stand-in for Xilinx's xstatus.h: the two codes the C driver uses. */
#ifndef XSTATUS_H
#define XSTATUS_H
#include "xil_types.h"
#define XST_SUCCESS 0L
#define XST_FAILURE 1L
#endif
