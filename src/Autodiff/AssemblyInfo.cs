namespace IlgpuStyle.Autodiff;
