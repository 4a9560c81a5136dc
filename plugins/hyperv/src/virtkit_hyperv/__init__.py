"""virtkit driver for Microsoft Hyper-V (WMI virtualization v2 over WS-Management)."""
