/* Stand-in for the xparameters.h a BSP generates from the hardware (.xsa): the AXI DMA's
 * device ID (classic BSP) and base address (system device tree BSP), as Vivado names them
 * for a DMA called axi_dma_0. */
#ifndef XPARAMETERS_H
#define XPARAMETERS_H
#define XPAR_AXIDMA_0_DEVICE_ID 0U
#define XPAR_XAXIDMA_0_BASEADDR 0x40400000U
#endif
