"""virtkit driver for VirtualBox (VBoxManage) and VirtualBox .vbox settings files."""
