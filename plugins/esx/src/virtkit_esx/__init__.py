"""virtkit driver for VMware ESX, GSX and vCenter (vSphere API through pyvmomi)."""
