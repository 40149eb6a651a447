namespace IlgpuStyle.Network;
