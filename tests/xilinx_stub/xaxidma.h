/* Stand-in for Xilinx's xaxidma.h (embeddedsw, AXI DMA driver 9.x; PG021): only the
 * types, constants and calls the C driver uses, with the signatures of that header, so
 * that the driver compiles on a PC with gcc -Wall -Wextra (tests/test_c_driver.py). The
 * structures hold only what these stand-ins need. */
#ifndef XAXIDMA_H
#define XAXIDMA_H
#include "xil_types.h"
#include "xstatus.h"

#define XAXIDMA_DMA_TO_DEVICE 0x00   /* MM2S: memory to the stream */
#define XAXIDMA_DEVICE_TO_DMA 0x01   /* S2MM: the stream to memory */
#define XAXIDMA_IRQ_ALL_MASK  0x00007000

typedef struct {
    u32 DeviceId;
    UINTPTR BaseAddr;
    int HasSg;
} XAxiDma_Config;

typedef struct {
    UINTPTR RegBase;
    int HasSg;
    u32 IntrMask[2];
} XAxiDma;

#ifndef SDT
XAxiDma_Config *XAxiDma_LookupConfig(u32 DeviceId);
#else
XAxiDma_Config *XAxiDma_LookupConfig(UINTPTR BaseAddress);
#endif
int XAxiDma_CfgInitialize(XAxiDma *InstancePtr, XAxiDma_Config *Config);
u32 XAxiDma_SimpleTransfer(XAxiDma *InstancePtr, UINTPTR BuffAddr, u32 Length, int Direction);
u32 XAxiDma_Busy(XAxiDma *InstancePtr, int Direction);

#define XAxiDma_HasSg(InstancePtr) (((InstancePtr)->HasSg) ? TRUE : FALSE)
#define XAxiDma_IntrDisable(InstancePtr, Mask, Direction) \
    ((InstancePtr)->IntrMask[(Direction) & 1] &= ~(u32)(Mask))
#endif
