#!/usr/bin/env python3
"""Tutorial 004's one-kernel cell, verbatim, after torch.manual_seed(0), on convlab's built-in digits
(data/digits.csv.gz). Prints the numbers src/train/kernel_lab.rs's test quotes. Run from the
repository root: python3 tools/kernel_lab.py"""
import gzip, numpy as np, torch, torch.nn as nn
rows = np.loadtxt(gzip.open('data/digits.csv.gz','rt'), delimiter=',')
data = {'data': rows[:, :64], 'target': rows[:, 64].astype(int)}
torch.manual_seed(0)
conv_1kernel = nn.Conv2d(in_channels=1, out_channels=1, kernel_size=(8,8), stride=(1,1), padding=(0,0))
x = data['data'][data['target'] == 3]
y = data['target'][data['target'] == 3]
x = np.reshape(x, (len(x), 1, 8, 8))
x = torch.tensor(x, dtype=torch.float32)
y = torch.tensor(y, dtype=torch.float32)
optimizer = torch.optim.Adam(conv_1kernel.parameters(), lr=0.001)
loss_fn = torch.nn.BCEWithLogitsLoss(reduction='none')
kernels = [conv_1kernel.weight.detach().numpy().copy()]
mean3 = x.numpy().mean(0)[0].ravel()
def corr(k): return np.corrcoef(k[0,0].ravel(), mean3)[0,1]
print(len(x), 'threes; epoch 0 corr', corr(kernels[0]))
for ep in range(10):
    tot=0
    for i in range(len(x)):
        optimizer.zero_grad()
        yhat = torch.squeeze(conv_1kernel(x[i:i+1]))
        loss = loss_fn(y[i], yhat)
        tot += loss.item()
        loss.backward()
        optimizer.step()
    kernels.append(conv_1kernel.weight.detach().numpy().copy())
    print('epoch', ep+1, 'mean loss', tot/len(x), 'last', loss.item(), 'corr', corr(kernels[-1]), 'bias', conv_1kernel.bias.item())

