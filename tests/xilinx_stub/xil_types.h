/* Stand-in for Xilinx's xil_types.h (standalone BSP), for compiling the C driver on a PC
 * (tests/test_c_driver.py): only the types the driver uses. */
#ifndef XIL_TYPES_H
#define XIL_TYPES_H
#include <stdint.h>
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef uintptr_t UINTPTR;
typedef intptr_t INTPTR;
typedef char char8;
#define TRUE 1U
#define FALSE 0U
#endif
