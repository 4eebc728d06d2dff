/* SPDX-License-Identifier: Apache-2.0 */
/* What the parts of the Windows platform layer (platform_windows.c, platform_windows_io.c,
 * platform_windows_proc.c) share. */
#ifndef VMPULL_PLATFORM_WINDOWS_H
#define VMPULL_PLATFORM_WINDOWS_H

/* The errno for a GetLastError() code (EIO for one without an equivalent). */
int plat_win_errno(unsigned long e);
/* fd's HANDLE (INVALID_HANDLE_VALUE for a bad fd). */
void *plat_win_handle(int fd);

#endif
