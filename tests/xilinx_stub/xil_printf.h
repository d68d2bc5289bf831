/* Stand-in for Xilinx's xil_printf.h. The format attribute (not in Xilinx's header) lets
 * gcc -Wall check every call's arguments against its format. */
#ifndef XIL_PRINTF_H
#define XIL_PRINTF_H
#include "xil_types.h"
void xil_printf(const char8 *ctrl1, ...) __attribute__((format(printf, 1, 2)));
#endif
